"""Watch folders and files that are not ready or not sane: stalled copies, copies that close per chunk,
empty files, and a file whose job keeps taking the daemon down."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from bridge.daemon import protocol
from bridge.daemon.client import Connection
from tests.daemon_utils import HOST, DaemonProcess, tiny_video, wait_for


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return tiny_video(tmp_path_factory.mktemp("wlmedia") / "clip.mp4", seconds=2.0)


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    root = tmp_path_factory.mktemp("wl")
    folders = {name: root / name for name in ("stall", "chunks", "empty")}
    args = sum((("--watch", str(f)) for f in folders.values()), ())
    d = DaemonProcess(root / "d", args=(*args, "--allow", str(tmp_path_factory.getbasetemp()))).start()
    d.wait_ready()
    yield d, folders
    assert d.stop() == 0, d.output()


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def untouched(w: Path) -> bool:
    return names(w / "out") == [] and names(w / "failed") == [] and names(w / "done") == []


def test_a_stalled_copy_is_not_taken_while_its_writer_holds_it(watched, clip):
    _, folders = watched
    w = folders["stall"]
    data = clip.read_bytes()
    with open(w / "in" / "stalled.mp4", "wb") as fh:
        fh.write(data[: len(data) // 2])
        fh.flush()
        os.fsync(fh.fileno())
        stalled = time.monotonic()
        while time.monotonic() - stalled < 8.0:  # longer than the 5 s quiet period, writer still open
            assert untouched(w), names(w / "failed")
            time.sleep(0.2)
        fh.write(data[len(data) // 2:])
    wait_for(lambda: names(w / "done") == ["stalled.mp4"], timeout_s=60, what="stalled.mp4 done")
    events = json.loads((w / "out" / "stalled" / "events.json").read_text())
    assert events["source"]["duration_s"] == pytest.approx(2.0, abs=0.05)


def test_a_copy_that_closes_after_every_chunk_is_taken_whole(watched, clip):
    _, folders = watched
    w = folders["chunks"]
    data = clip.read_bytes()
    step = len(data) // 4 + 1
    for i in range(0, len(data), step):
        with open(w / "in" / "chunky.mp4", "ab") as fh:
            fh.write(data[i:i + step])
        time.sleep(1.5)  # well past the settle time, each chunk closed
        if i + step < len(data):
            assert untouched(w), names(w / "failed")
    wait_for(lambda: names(w / "done") == ["chunky.mp4"], timeout_s=60, what="chunky.mp4 done")
    assert names(w / "failed") == [] and (w / "done" / "chunky.mp4").read_bytes() == data


def test_an_empty_file_does_not_stay_in_the_inbox(watched):
    _, folders = watched
    w = folders["empty"]
    (w / "in" / "empty.mp4").touch()
    wait_for(lambda: "empty.mp4.error.txt" in names(w / "failed"), timeout_s=30, what="empty.mp4 failed")
    assert names(w / "in") == []
    assert "0 bytes" in (w / "failed" / "empty.mp4.error.txt").read_text()


def test_a_file_that_keeps_killing_the_daemon_is_not_retried_for_ever(tmp_path):
    w = tmp_path / "w"
    (w / "in").mkdir(parents=True)
    long_clip = tiny_video(tmp_path / "long.mp4", seconds=40.0)
    os.rename(long_clip, w / "in" / "long.mp4")
    args = ("--watch", str(w), "--allow", str(tmp_path), "--no-warm", "--no-library-watch")
    d = DaemonProcess(tmp_path / "d", args=args)

    def running() -> bool:
        with Connection(HOST, d.port) as conn:
            return bool(json.loads(conn.call(protocol.STATUS, replies=(protocol.STATUS,)).args[0])["running"])

    for _ in range(2):  # the job dies with the daemon twice (as a crash would take it)
        d.start()
        try:
            wait_for(running, timeout_s=60, what="watch job running")
        finally:
            d.kill()
        assert names(w / "in") == ["long.mp4"]
    d.start()
    try:
        wait_for(lambda: "long.mp4.error.txt" in names(w / "failed"), timeout_s=30, what="long.mp4 failed")
        note = (w / "failed" / "long.mp4.error.txt").read_text()
        assert note.startswith("interrupted:") and "2 times" in note
        assert names(w / "in") == [] and names(w / "out") == []
    finally:
        assert d.stop() == 0, d.output()
