"""Watch folders on a real daemon: slow copies, 50 files at once, timelines, bad files, restarts."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import opentimelineio as otio
import pytest

from bridge.daemon import protocol
from bridge.daemon.client import Connection
from bridge.daemon.journal import replay
from tests.daemon_utils import HOST, DaemonProcess, tiny_video, wait_for


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return tiny_video(tmp_path_factory.mktemp("watchmedia") / "clip.mp4")


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    root = tmp_path_factory.mktemp("watchd")
    folders = {name: root / name for name in ("slow", "many", "misc")}
    args = sum((("--watch", str(f)) for f in folders.values()), ())
    d = DaemonProcess(root / "d", args=(*args, "--allow", str(tmp_path_factory.getbasetemp()))).start()
    d.wait_ready()
    yield d, folders
    assert d.stop() == 0, d.output()


def watch_jobs(d: DaemonProcess, folder: Path) -> list[dict]:
    """Journal records of jobs whose input lay in ``folder/in``."""
    records = replay(d.root / "state" / f"journal-{d.port}.jsonl")
    return [r for r in records.values()
            if str(r.get("request", {}).get("watch_input", "")).startswith(str(folder / "in") + os.sep)]


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_slowly_written_file_is_taken_only_when_complete(watched, clip):
    d, folders = watched
    w = folders["slow"]
    data = clip.read_bytes()
    chunks = [data[i:i + len(data) // 4 + 1] for i in range(0, len(data), len(data) // 4 + 1)]
    with open(w / "in" / "slow.mp4", "wb") as fh:
        for chunk in chunks:
            fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
            time.sleep(0.8)  # longer than the settle time, file still open
            assert names(w / "out") == [] and names(w / "failed") == [] and names(w / "done") == []
    wait_for(lambda: names(w / "done") == ["slow.mp4"], what="slow.mp4 done")
    assert names(w / "failed") == [] and names(w / "in") == []
    events = json.loads((w / "out" / "slow" / "events.json").read_text())
    assert events["source"]["duration_s"] == pytest.approx(1.0, abs=0.05)  # the whole file was read
    assert (w / "done" / "slow.mp4").read_bytes() == data
    assert len(watch_jobs(d, w)) == 1


def test_fifty_files_at_once_none_lost_none_twice(watched, clip, tmp_path):
    d, folders = watched
    w = folders["many"]
    staging = tmp_path / "staging"
    staging.mkdir()
    for i in range(50):
        shutil.copyfile(clip, staging / f"shot{i:02d}.mp4")
    for i in range(50):  # half renamed in (atomic), half copied in (written, then closed)
        src = staging / f"shot{i:02d}.mp4"
        if i % 2:
            os.rename(src, w / "in" / src.name)
        else:
            shutil.copyfile(src, w / "in" / src.name)
    wait_for(lambda: len(names(w / "done")) == 50, timeout_s=120, what="50 files done")
    assert names(w / "failed") == [] and names(w / "in") == []
    assert names(w / "done") == [f"shot{i:02d}.mp4" for i in range(50)]
    outs = names(w / "out")
    assert outs == [f"shot{i:02d}" for i in range(50)]
    assert all(json.loads((w / "out" / o / "result.json").read_text())["placements"] for o in outs)
    jobs = watch_jobs(d, w)
    inputs = [j["request"]["watch_input"] for j in jobs]
    assert len(inputs) == 50 and len(set(inputs)) == 50
    assert all(j["state"] == "done" for j in jobs)


def test_timeline_file_and_bad_files(watched, clip):
    d, folders = watched
    w = folders["misc"]
    tl = otio.schema.Timeline(name="cut")
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    tl.tracks.append(track)
    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange
    ref = otio.schema.ExternalReference(target_url=otio.url_utils.url_from_filepath(str(clip)),
                                       available_range=tr(rt(0, 25), rt(25, 25)))
    track.append(otio.schema.Clip(name="c", media_reference=ref, source_range=tr(rt(0, 25), rt(25, 25))))
    tmp = w / "cut.otio.part"  # partial names are ignored until renamed
    otio.adapters.write_to_file(tl, str(tmp), adapter_name="otio_json")
    os.rename(tmp, w / "in" / "cut.otio")
    (w / "in" / "notes.txt").write_text("not media")
    (w / "in" / "broken.mp4").write_bytes(os.urandom(4096))
    wait_for(lambda: len(names(w / "done")) + len([n for n in names(w / "failed") if "error" not in n]) == 3,
             what="three files handled")
    assert names(w / "done") == ["cut.otio"]
    assert json.loads((w / "out" / "cut" / "result.json").read_text())["placements"]
    assert names(w / "failed") == ["broken.mp4", "broken.mp4.error.txt", "notes.txt", "notes.txt.error.txt"]
    assert "neither a video" in (w / "failed" / "notes.txt.error.txt").read_text()
    assert (w / "failed" / "broken.mp4.error.txt").read_text().startswith("bad_input:")
    with Connection(HOST, d.port) as conn:  # the daemon still serves
        assert conn.call(protocol.PING, replies=(protocol.PONG,))


def test_restart_resumes_files_left_in_the_inbox(tmp_path, clip):
    w = tmp_path / "w"
    (w / "in").mkdir(parents=True)
    long_clip = tiny_video(tmp_path / "long.mp4", seconds=30.0)
    shutil.copyfile(long_clip, w / "in" / "long.mp4")
    os.utime(w / "in" / "long.mp4", (time.time() - 60, time.time() - 60))  # it lay there before the start
    args = ("--watch", str(w), "--allow", str(tmp_path), "--no-warm")
    d = DaemonProcess(tmp_path / "d", args=args).start()

    def running() -> bool:
        with Connection(HOST, d.port) as conn:
            return json.loads(conn.call(protocol.STATUS, replies=(protocol.STATUS,)).args[0])["running"]

    try:
        wait_for(running, what="watch job running")
    finally:
        d.kill()  # mid-job: the input stays in in/, nothing half-written in out/
    assert names(w / "in") == ["long.mp4"] and names(w / "out") == []
    shutil.copy2(clip, w / "in" / "later.mp4")  # dropped while the daemon was down (copy2 keeps the mtime)
    d2 = DaemonProcess(d.root, port=d.port, args=args).start()
    try:
        wait_for(lambda: names(w / "done") == ["later.mp4", "long.mp4"], what="both done after restart")
    finally:
        assert d2.stop() == 0
    assert names(w / "out") == ["later", "long"] and names(w / "failed") == []
    jobs = watch_jobs(d2, w)
    states = sorted((Path(j["request"]["watch_input"]).name, j["state"], j.get("code")) for j in jobs)
    assert states == [("later.mp4", "done", None), ("long.mp4", "done", None),
                      ("long.mp4", "failed", "interrupted")]
