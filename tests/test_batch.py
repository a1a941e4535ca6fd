"""``foley batch`` on a real Ray cluster on this machine: a head and a second node (``ray start``), joined
with ``--ray-address`` as on a studio cluster. One cluster serves the whole module (Ray starts slowly)."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import soundfile as sf

from bridge import cli
from bridge.batch import BatchConfig, run_batch
from bridge.batch.runners import CPUS_PER_WORKER, ray_available
from bridge.batch.shots import read_reel
from bridge.bwf import read_bext
from bridge.errors import Cancelled, OutputError
from bridge.options import Options
from bridge.timeline import META_KEY
from tests.videos import Mover, drop, scene

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
REPO = Path(__file__).resolve().parents[1]
RAY = Path(sys.executable).with_name("ray")
FPS = 30
needs_ray = pytest.mark.skipif(not ray_available() or not RAY.exists(),
                               reason="Ray is not installed (pip install foley-bridge[cluster])")

#: (video, first frame, frames): eight 1-1.5 s shots, each around a known impact of its video.
SHOTS = [(0, 9, 36), (0, 39, 42), (1, 3, 33), (1, 42, 39), (2, 12, 45), (2, 57, 30), (0, 45, 45), (1, 18, 39)]
BAD = (2, 150, 30)  # starts after its 3 s video ends
#: `foley run` options every batch and single run here takes.
RUN_ARGS = ("--device", "cpu", "--format", "otio,xml")


def _videos(root: Path) -> list[Path]:
    paths = []
    for k, (x, t0, hit) in enumerate([(0.3, 0.2, 0.7), (0.6, 0.1, 0.5), (0.45, 0.4, 1.0)]):
        path = root / f"take{k + 1}.mp4"
        scene(path, [Mover(drop(x, t0, hit), seed=k + 1), Mover(drop(0.85 - x / 2, t0 + 1.0, hit + 1.2),
                                                                color=(80, 120, 240), seed=k + 7)],
              seconds=3.0, width=320, height=180)
        paths.append(path)
    return paths


def _reel(path: Path, videos: list[Path], shots: list[tuple[int, int, int]]) -> Path:
    """A 30 fps reel starting at 01:00:00:00: the shots in order, a 10-frame gap after every other one."""
    tl = otio.schema.Timeline(name="reel 1", global_start_time=RT(3600 * FPS, FPS))
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    tl.tracks.append(track)
    for n, (v, first, frames) in enumerate(shots):
        ref = otio.schema.ExternalReference(target_url=otio.url_utils.url_from_filepath(str(videos[v])),
                                            available_range=TR(RT(0, FPS), RT(90, FPS)))
        track.append(otio.schema.Clip(name=f"sc{n + 1} {videos[v].stem}", media_reference=ref,
                                      source_range=TR(RT(first, FPS), RT(frames, FPS))))
        if n % 2:
            track.append(otio.schema.Gap(source_range=TR(RT(0, FPS), RT(10, FPS))))
    otio.adapters.write_to_file(tl, str(path))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([str(RAY), "start", *args, "--block"], env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while "Ray runtime started" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"ray start {' '.join(args)} did not come up:\n{log.read_text()[-2000:]}")
        time.sleep(0.3)
    return proc


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A Ray head and a second node on this machine, one worker's CPUs each, with their own auth token."""
    if not ray_available() or not RAY.exists():
        pytest.skip("Ray is not installed (pip install foley-bridge[cluster])")
    logs = tmp_path_factory.mktemp("ray")
    port = _free_port()
    mp = pytest.MonkeyPatch()
    for key, value in {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),
                       "RAY_USAGE_STATS_ENABLED": "0"}.items():
        mp.setenv(key, value)
    env = dict(os.environ)
    cpus = f"--num-cpus={CPUS_PER_WORKER}"
    procs = [_start(["--head", f"--port={port}", cpus, "--include-dashboard=false"], env,
                    logs / "head.log")]
    try:
        text = (logs / "head.log").read_text()  # the head prints the address nodes join at
        address = (text.split("ray start --address='")[1].split("'")[0] if "--address='" in text
                   else f"{socket.gethostbyname(socket.gethostname())}:{port}")
        procs.append(_start([f"--address={address}", cpus], env, logs / "node.log"))
        yield address
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
        mp.undo()


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("reel")
    videos = _videos(root)
    return {"root": root, "videos": videos, "reel": _reel(root / "reel.otio", videos, SHOTS + [BAD])}


def _cli_options() -> Options:
    """The options `foley batch REEL --device cpu` and `foley run VIDEO --device cpu` both get."""
    from bridge.commands.run import options_from_args

    return options_from_args(cli.build_parser().parse_args(["batch", "REEL", *RUN_ARGS]))


def _batch(media, cluster, outdir: Path, **kw) -> tuple[dict, list[str], list[dict]]:
    lines: list[str] = []
    finished: list[dict] = []
    on_shot = kw.pop("on_shot", None)
    cancel = kw.pop("cancel", None)

    def shot_done(entry: dict) -> None:
        finished.append(dict(entry))
        if on_shot is not None:
            on_shot(entry)

    config = BatchConfig(source=str(media["reel"]), output_dir=str(outdir), options=_cli_options(),
                         ray_address=cluster, **kw)
    return run_batch(config, echo=lines.append, on_shot=shot_done, cancel=cancel), lines, finished


@pytest.fixture(scope="module")
def batch(media, cluster):
    outdir = media["root"] / "out"
    doc, lines, finished = _batch(media, cluster, outdir)
    return {"doc": doc, "lines": lines, "finished": finished, "outdir": outdir}


def foley_run(*args: str) -> None:
    """`foley run ARGS` with a batch worker's torch thread count (one per CPU it holds): float sums taken
    over another thread count may differ in the last bit of a 24-bit sample."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(CPUS_PER_WORKER)
    try:
        assert cli.main(["run", *args, *RUN_ARGS]) == 0
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def singles(media):
    """Each good shot run on its own with `foley run VIDEO --range IN OUT`."""
    folders = {}
    for shot in read_reel(media["reel"]).shots[:len(SHOTS)]:
        out = media["root"] / "single" / shot.name
        assert shot.span is not None
        foley_run(shot.path, "--range", repr(shot.span[0]), repr(shot.span[1]), "-o", str(out))
        folders[shot.name] = out
    return folders


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _no_leftovers(outdir: Path) -> None:
    assert [p.name for p in outdir.iterdir() if p.name.startswith(".")] == []


@needs_ray
def test_each_shot_is_what_a_single_foley_run_writes(batch, singles):
    for name, single in singles.items():
        mine = batch["outdir"] / name
        assert _files(mine) == _files(single)
        assert json.loads((mine / "events.json").read_text()) == json.loads((single / "events.json").read_text())
        wavs = [f for f in _files(single) if f.endswith(".wav")]
        assert any(f.startswith("clips/") for f in wavs)
        for rel in wavs:
            a, rate_a = sf.read(str(mine / rel), dtype="int32")
            b, rate_b = sf.read(str(single / rel), dtype="int32")
            assert rate_a == rate_b and np.array_equal(a, b), rel
        result = json.loads((mine / "result.json").read_text())
        assert result["output_dir"] == str(mine) and Path(result["placements"][0]["path"]).parent.parent == mine


@needs_ray
def test_combined_timeline_puts_every_clip_at_its_record_position(batch, media):
    reel = read_reel(media["reel"])
    shots = {s.name: s for s in reel.shots}
    timeline = otio.adapters.read_from_file(str(batch["outdir"] / "foley.otio"))
    assert timeline.global_start_time.to_seconds() == pytest.approx(3600.0)
    expected = {}
    for name in list(shots)[:len(SHOTS)]:
        events = json.loads((batch["outdir"] / name / "events.json").read_text())["events"]
        assert any(e["kind"] != "ambience" for e in events), f"{name}: no event found around its impact"
        shot = shots[name]
        for e in events:
            if e.get("clip"):
                expected[(name, e["id"])] = shot.record_in_s + e["time_s"] - shot.source_in_s
    placed = {}
    for track in timeline.audio_tracks():
        for clip in track.find_clips():
            meta = clip.metadata[META_KEY]
            start = timeline.global_start_time.to_seconds() + track.range_of_child(clip).start_time.to_seconds()
            placed[(meta["shot"], meta["shot_event_id"])] = start + meta["snap_offset_s"]
            path = otio.url_utils.filepath_from_url(clip.media_reference.target_url)
            assert Path(path).is_file() and Path(path).parent.parent.name == meta["shot"]
    assert placed.keys() == expected.keys() and len(placed) >= len(SHOTS)
    for key, t in expected.items():
        assert abs(placed[key] - t) < 0.001, key
    for clip in timeline.find_clips():  # each media range still starts at its WAV's own BWF time reference
        ref = clip.media_reference
        tref = read_bext(otio.url_utils.filepath_from_url(ref.target_url))["time_reference"]
        assert ref.metadata[META_KEY]["time_reference"] == tref
        assert round(ref.available_range.start_time.to_seconds() * 48000) == tref
        assert clip.source_range == ref.available_range
    assert batch["doc"]["otio"] == [str(batch["outdir"] / "foley.otio"), str(batch["outdir"] / "foley.xml")]
    xml = (batch["outdir"] / "foley.xml").read_text()
    assert xml.count("<clipitem") == len(placed)


@needs_ray
def test_a_bad_shot_fails_alone_and_the_record_says_so(batch):
    shots = batch["doc"]["shots"]
    assert [s["status"] for s in shots] == ["ok"] * len(SHOTS) + ["failed"]
    bad = shots[-1]
    assert "outside" in bad["error"] and bad["events"] is None and not Path(bad["output_dir"]).exists()
    assert all(s["events"] >= 1 and s["seconds"] > 0 and s["error"] is None for s in shots[:-1])
    assert len({s["worker"] for s in shots[:-1]}) == 2  # both nodes' workers took shots
    assert json.loads((batch["outdir"] / "batch.json").read_text()) == batch["doc"]
    progress = json.loads((batch["outdir"] / "progress.json").read_text())
    assert progress | {"elapsed_s": 0, "updated": "", "runner": "", "shots_per_minute": 0} == {
        "state": "done", "total": 9, "to_run": 9, "ran": 9, "ok": 8, "failed": 1, "skipped": 0, "pending": 0,
        "elapsed_s": 0, "eta_s": 0.0, "shots_per_minute": 0, "runner": "", "updated": ""}
    assert "Ray cluster at" in batch["lines"][0] and "2 workers" in batch["lines"][0]
    assert batch["lines"][-1].endswith("done") and any("FAILED" in line for line in batch["lines"])
    _no_leftovers(batch["outdir"])


@pytest.fixture(scope="module")
def killed(media, cluster):
    """A batch during which one worker process is killed (SIGKILL) while it runs a shot."""
    outdir = media["root"] / "killed"
    victims: list[int] = []

    def kill_first(entry: dict) -> None:
        if not victims and entry["worker"]:
            victims.append(int(entry["worker"].rsplit(":", 1)[1]))
            os.kill(victims[0], signal.SIGKILL)  # it already holds its next shot

    doc, lines, finished = _batch(media, cluster, outdir, on_shot=kill_first)
    return {"doc": doc, "finished": finished, "outdir": outdir, "victim": victims[0]}


@needs_ray
def test_a_worker_killed_mid_batch_loses_no_shot(killed, singles):
    shots = killed["doc"]["shots"]
    assert [s["status"] for s in shots] == ["ok"] * len(SHOTS) + ["failed"]
    workers = [s["worker"] for s in killed["finished"]]
    assert workers.count(f"{socket.gethostname()}:{killed['victim']}") == 1  # it finished nothing after
    assert len(set(workers)) == 3  # its restart took over
    for name, single in singles.items():
        mine = killed["outdir"] / name
        assert json.loads((mine / "events.json").read_text()) == json.loads((single / "events.json").read_text())
    _no_leftovers(killed["outdir"])


@needs_ray
def test_resume_runs_only_what_is_missing_and_leaves_the_rest_untouched(media, cluster, killed):
    outdir = killed["outdir"]
    names = [s["shot"] for s in killed["doc"]["shots"]]
    shutil.rmtree(outdir / names[1])
    shutil.rmtree(outdir / names[5])
    (outdir / names[3] / "events.json").unlink()  # damaged: no longer a complete result
    kept = [n for i, n in enumerate(names[:len(SHOTS)]) if i not in (1, 3, 5)]
    before = {n: {f: (outdir / n / f).stat().st_mtime_ns for f in _files(outdir / n)} for n in kept}
    doc, lines, finished = _batch(media, cluster, outdir, resume=True, workers=1)
    assert sorted(e["shot"] for e in finished) == sorted([names[1], names[3], names[5], names[-1]])
    status = {s["shot"]: s["status"] for s in doc["shots"]}
    assert [status[n] for n in kept] == ["skipped"] * len(kept)
    assert status[names[1]] == status[names[3]] == status[names[5]] == "ok" and status[names[-1]] == "failed"
    for n in kept:
        assert {f: (outdir / n / f).stat().st_mtime_ns for f in _files(outdir / n)} == before[n]
        entry = next(s for s in doc["shots"] if s["shot"] == n)
        assert entry["events"] == len(json.loads((outdir / n / "events.json").read_text())["events"])
    assert "5 already complete" in lines[0] and "running 4" in lines[0]
    clips = {c.metadata[META_KEY]["shot"] for c in otio.adapters.read_from_file(str(outdir / "foley.otio"))
             .find_clips()}
    assert clips == set(names[:len(SHOTS)])


@needs_ray
def test_cancel_stops_the_workers_and_leaves_no_temporary_folder(media, cluster):
    outdir = media["root"] / "cancelled"
    stop = threading.Event()
    pids: list[int] = []

    def cancel_after_first(entry: dict) -> None:
        pids.append(int(entry["worker"].rsplit(":", 1)[1]))
        stop.set()

    with pytest.raises(Cancelled, match="--resume"):
        _batch(media, cluster, outdir, on_shot=cancel_after_first, cancel=stop, workers=1)
    doc = json.loads((outdir / "batch.json").read_text())
    assert doc["state"] == "cancelled" and json.loads((outdir / "progress.json").read_text())["state"] == "cancelled"
    done = [s for s in doc["shots"] if s["status"] == "ok"]
    assert done and all(s["status"] == "failed" and "cancelled" in s["error"] for s in doc["shots"]
                        if s["status"] != "ok")
    assert sorted(p.name for p in outdir.iterdir()) == sorted([s["shot"] for s in done] +
                                                               ["batch.json", "progress.json"])
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)


def test_a_folder_runs_on_a_process_pool_without_ray_and_survives_a_killed_worker(tmp_path):
    folder = tmp_path / "dailies"
    folder.mkdir()
    for v in _videos(tmp_path):
        v.rename(folder / v.name)
    (folder / "notes.txt").write_text("not a video")
    victims: list[int] = []

    def kill_first(entry: dict) -> None:  # its process has taken the next shot by now
        if not victims:
            victims.append(int(entry["worker"].rsplit(":", 1)[1]))
            os.kill(victims[0], signal.SIGKILL)

    config = BatchConfig(source=str(folder), options=_cli_options(), workers=2, runner="pool")
    lines: list[str] = []
    doc = run_batch(config, echo=lines.append, on_shot=kill_first)
    outdir = tmp_path / "dailies.foley"
    assert [(s["shot"], s["status"]) for s in doc["shots"]] == [("take1", "ok"), ("take2", "ok"), ("take3", "ok")]
    workers = [s["worker"] for s in doc["shots"]]
    assert "process pool" in lines[0] and workers.count(f"{socket.gethostname()}:{victims[0]}") == 1
    assert doc["otio"] == [] and not (outdir / "foley.otio").exists()
    _no_leftovers(outdir)
    single = tmp_path / "single"
    foley_run(str(folder / "take2.mp4"), "-o", str(single))
    assert json.loads((outdir / "take2" / "events.json").read_text()) == json.loads((single / "events.json")
                                                                                    .read_text())


def test_a_cluster_without_ray_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    import bridge.batch.runners as runners

    monkeypatch.setattr(runners, "ray_available", lambda: False)
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.mp4").write_bytes(b"x")
    code = cli.main(["batch", str(tmp_path / "v"), "--ray-address", "10.0.0.1:6379"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "pip install foley-bridge[cluster]" in err[0]
    assert not (tmp_path / "v.foley").exists()


@needs_ray
def test_a_cluster_address_where_nothing_answers_is_one_clear_line_at_once(tmp_path, capsys):
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.mp4").write_bytes(b"x")
    started = time.monotonic()
    code = cli.main(["batch", str(tmp_path / "v"), "--ray-address", f"127.0.0.1:{_free_port()}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "nothing answers at" in err[0] and "ray start --head" in err[0]
    assert time.monotonic() - started < 10 and not (tmp_path / "v.foley").exists()


def test_a_folder_that_is_not_a_batch_is_refused_untouched(tmp_path):
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.mp4").write_bytes(b"x")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    with pytest.raises(OutputError, match="notes.txt"):
        run_batch(BatchConfig(source=str(tmp_path / "v"), output_dir=str(out), runner="pool"))
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_shot_names_are_unique_folder_names(tmp_path):
    videos = tmp_path / "v"
    videos.mkdir()
    for name in ("a b.mp4", "a b.mov", "c.mkv", ".hidden.mp4", "d.mp4.part", "e.txt"):
        (videos / name).write_bytes(b"x")
    assert [s.name for s in read_reel(videos).shots] == ["a_b.mov", "a_b.mp4", "c"]
    reel = _reel(tmp_path / "r.otio", [videos / "c.mkv"] * 3, [(0, 0, 10), (0, 10, 10), (0, 20, 10)])
    shots = read_reel(reel).shots
    assert [s.name for s in shots] == ["001_sc1_c", "002_sc2_c", "003_sc3_c"]
    assert [round(s.record_in_s - 3600, 4) for s in shots] == [0.0, round(10 / FPS, 4), round(30 / FPS, 4)]


def test_help_stays_fast_without_importing_ray():
    code = "import sys; from bridge.cli import build_parser; build_parser(); print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
