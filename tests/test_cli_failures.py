"""`foley run` when things go wrong around it: a full disk, SIGTERM/SIGHUP while it writes, bad
arguments that must be refused before any work, and the modes of what it writes (the umask)."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

import foley_cli
from bridge.outdir import MARKER
from odd_media import clip
from tests.daemon_utils import REPO, tiny_video


def run(*args: str, umask: int | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return foley_cli.run(*args, cwd=REPO, umask=umask, timeout=timeout)


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return clip(tmp_path_factory.mktemp("cli-media") / "clip.mp4", seconds=2.0)


def _mount_tmpfs(path: Path, size: str, readonly: bool = False) -> None:
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if readonly else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip() or 'not permitted'})")


@pytest.fixture
def small_disk(tmp_path):
    """Mounts small tmpfs file systems under tmp_path; unmounts them at the end."""
    mounted: list[Path] = []

    def make(name: str, size: str, readonly: bool = False) -> Path:
        path = tmp_path / name
        _mount_tmpfs(path, size, readonly)
        mounted.append(path)
        return path

    yield make
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _one_line(err: str) -> str:
    """The one error line (model libraries may log their own start-up lines to stderr)."""
    lines = [line for line in err.splitlines() if line.startswith("foley: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_full_disk_while_writing_results_is_one_line_and_leaves_nothing(video, small_disk):
    disk = small_disk("full", "96k")
    out = run("run", str(video), "-o", str(disk / "res"))
    assert out.returncode == 2, out.stderr
    line = _one_line(out.stderr)
    assert "cannot write" in line and "space" in line, line
    assert list(disk.iterdir()) == []  # no result folder, no temp folder


def test_full_disk_at_the_timeline_and_events_files(video, small_disk, tmp_path):
    """Room for the audio but not for foley.otio / events.json, the last files written."""
    ref = tmp_path / "ref"
    assert run("run", str(video), "-o", str(ref)).returncode == 0
    pages = sum(-(-p.stat().st_size // 4096) for p in ref.rglob("*") if p.is_file())
    disk = small_disk("nearly", f"{(pages - 2) * 4}k")
    out = run("run", str(video), "-o", str(disk / "res"))
    assert out.returncode == 2, out.stderr
    line = _one_line(out.stderr)
    assert "cannot write the results" in line and "No space left" in line, line
    assert list(disk.iterdir()) == []


def test_full_disk_while_exporting_leaves_no_complete_result(video, small_disk, tmp_path):
    disk = small_disk("fullexp", "8k")
    out = run("run", str(video), "-o", str(tmp_path / "res"), "--export-video", str(disk / "with_foley.mp4"))
    assert out.returncode == 2, out.stderr
    line = _one_line(out.stderr)
    assert "with_foley.mp4" in line, line
    assert list(disk.iterdir()) == []
    assert not (tmp_path / "res").exists()  # the command failed as a whole
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_terminated_while_writing_removes_the_temp_folder(tmp_path, sig):
    long = tiny_video(tmp_path / "long.mp4", seconds=40.0)
    out_dir = tmp_path / "res"
    proc = subprocess.Popen([*foley_cli.FOLEY, "run", str(long), "-o", str(out_dir)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    temp = []
    while time.monotonic() < deadline and proc.poll() is None and not temp:
        temp = [p for p in tmp_path.iterdir() if p.name.startswith(".res.tmp-")]
        time.sleep(0.01)
    assert temp, f"no temp folder seen (exit {proc.poll()})"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0, (err, out)
    assert "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4"], err


def test_a_termination_dropped_where_it_landed_still_stops_the_job(video, tmp_path):
    """The handler's exception lands wherever the main thread is; inside a C extension's call back into
    Python (an isinstance check) the extension may drop it. The event the handler also sets stops the job
    at its next stage: Cancelled (exit 130), and no output folder is left."""
    import threading

    from bridge.api import Project
    from bridge.commands.run import Terminated, terminate_as_interrupt
    from bridge.errors import Cancelled
    from bridge.options import Options

    assert threading.current_thread() is threading.main_thread()
    with terminate_as_interrupt() as stop:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1.0)   # the handler runs here
        except Terminated:
            pass              # dropped, as such an extension does
        assert stop.is_set()
        with pytest.raises(Cancelled) as info:
            Project(str(video)).generate(Options(), output_dir=tmp_path / "res", cancel=stop)
    assert info.value.exit_code == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_bad_arguments_are_refused_before_any_work(video, tmp_path, small_disk):
    kinds = run("run", str(video), "--kinds", ",", "-o", str(tmp_path / "k"))
    assert kinds.returncode == 2 and "','" in _one_line(kinds.stderr)
    nan = run("run", str(video), "--range", "nan", "1", "-o", str(tmp_path / "n"))
    assert nan.returncode == 2 and "--range" in _one_line(nan.stderr)
    readonly = small_disk("ro", "64k", readonly=True)
    started = time.monotonic()
    export = run("run", str(video), "-o", str(tmp_path / "e"), "--export-video", str(readonly / "x.mp4"))
    assert export.returncode == 2 and "not writable" in _one_line(export.stderr)
    missing = run("run", str(video), "-o", str(tmp_path / "m"), "--export-video", str(tmp_path / "no" / "x.mp4"))
    assert missing.returncode == 2 and "does not exist" in _one_line(missing.stderr)
    assert time.monotonic() - started < 60
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ro"]  # no job ran: no output folder at all


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_outputs_follow_the_umask(video, tmp_path, umask):
    out = run("run", str(video), "-o", str(tmp_path / "res"), umask=umask)
    assert out.returncode == 0, out.stderr
    res = tmp_path / "res"
    assert _mode(res) == 0o777 & ~umask
    wavs = list(res.rglob("*.wav"))
    assert wavs and all(_mode(w) == 0o666 & ~umask for w in wavs), {w.name: oct(_mode(w)) for w in wavs}
    assert _mode(res / "events.json") == 0o666 & ~umask and _mode(res / MARKER) == 0o666 & ~umask
    assert all(_mode(d) == 0o777 & ~umask for d in res.iterdir() if d.is_dir())


def test_an_existing_folder_keeps_its_mode(video, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o2775)  # group-writable, setgid: a shared project folder
    out = run("run", str(video), "-o", str(shared), umask=0o022)
    assert out.returncode == 0, out.stderr
    assert (shared / "events.json").is_file()
    assert _mode(shared) & 0o777 == 0o775


def test_installed_host_scripts_follow_the_umask(tmp_path):
    out = run("install-scripts", "reaper", "--dest", str(tmp_path / "scripts"), umask=0o022)
    assert out.returncode == 0, out.stderr
    files = [p for p in (tmp_path / "scripts").rglob("*") if p.is_file()]
    assert files and all(_mode(p) == 0o644 for p in files), {p.name: oct(_mode(p)) for p in files}
