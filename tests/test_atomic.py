"""Whole-file writes (bridge.atomic): umask modes, nothing left behind, the old file kept on failure."""
from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge import atomic


@pytest.fixture
def umask_027() -> Iterator[int]:
    old = os.umask(0o027)
    try:
        yield 0o027
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_and_replaced_files_follow_the_umask(tmp_path: Path, umask_027: int) -> None:
    src = tmp_path / "src.lua"
    src.write_bytes(b"return 1\r\n")
    old = tmp_path / "old.json"
    old.write_text("{}")
    old.chmod(0o600)
    atomic.write_text(tmp_path / "a.txt", "one\ntwo\n")
    atomic.write_json(old, {"x": [1, 2]})
    atomic.copy(src, tmp_path / "b.lua", fsync=True)
    atomic.write_bytes(tmp_path / "c.bin", b"\x00\x01", fsync=True)
    for name in ("a.txt", "old.json", "b.lua", "c.bin"):
        assert mode(tmp_path / name) == 0o640, name  # 0666 less the umask, never the temp file's 0600
    assert (tmp_path / "a.txt").read_bytes() == b"one\ntwo\n"  # line ends as given
    assert json.loads(old.read_text()) == {"x": [1, 2]}
    assert (tmp_path / "b.lua").read_bytes() == b"return 1\r\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.lua", "c.bin", "old.json", "src.lua"]


def test_a_stricter_umask_gives_stricter_files(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        atomic.write_text(tmp_path / "private.txt", "x")
    finally:
        os.umask(old)
    assert mode(tmp_path / "private.txt") == 0o600


@pytest.mark.parametrize("where", ["fsync", "chmod", "replace", "interrupt"])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              where: str) -> None:
    target = tmp_path / "result.json"
    target.write_text('{"old": true}')

    def fail(*args: object, **kwargs: object) -> None:
        if where == "interrupt":
            raise KeyboardInterrupt
        raise OSError(errno.ENOSPC, "No space left on device")

    target_fn = {"fsync": (atomic.os, "fsync"), "chmod": (atomic, "follow_umask"),
                 "replace": (atomic.os, "replace"), "interrupt": (atomic, "follow_umask")}[where]
    monkeypatch.setattr(*target_fn, fail)
    with pytest.raises(KeyboardInterrupt if where == "interrupt" else OSError):
        atomic.write_json(target, {"new": True}, fsync=True)
    monkeypatch.undo()
    assert target.read_text() == '{"old": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_what_cannot_be_written_touches_nothing(tmp_path: Path) -> None:
    target = tmp_path / "t.json"
    target.write_text("kept")
    with pytest.raises(TypeError):
        atomic.write_json(target, {"a": {1, 2}})
    with pytest.raises(FileNotFoundError):
        atomic.copy(tmp_path / "missing.lua", target)
    with pytest.raises(FileNotFoundError):
        atomic.write_text(tmp_path / "no such folder" / "x.txt", "x")
    assert target.read_text() == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]


def test_the_project_writers_follow_the_umask(tmp_path: Path, umask_027: int) -> None:
    from adapters.hosts import install
    from bridge.commands.submit import write_json
    from bridge.daemon.journal import compact, replay

    write_json(tmp_path / "new folder" / "result.json", {"ok": True})
    journal = tmp_path / "jobs.jsonl"
    journal.write_text('{"job":"a","state":"queued"}\n{"job":"a","state":"done"}\n')
    journal.chmod(0o600)
    compact(journal, replay(journal))
    done = install("reaper", tmp_path / "scripts", foley="/opt/fb/bin/foley", work_dir=tmp_path / "w")
    written = [tmp_path / "new folder" / "result.json", journal, *done.files, done.config]
    assert all(mode(p) == 0o640 for p in written), {str(p): oct(mode(p)) for p in written}
    assert replay(journal) == {"a": {"job": "a", "state": "done"}}
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
