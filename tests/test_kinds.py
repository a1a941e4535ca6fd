"""Event kinds live in one table (bridge.kinds); everything else reads it."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bridge import kinds
from bridge.errors import InputError
from bridge.options import Options

ROOT = Path(__file__).resolve().parents[1]


def test_table_drives_event_options_and_tracks() -> None:
    from bridge.event import KIND_TRACKS, KINDS

    assert KINDS == kinds.KINDS == ("impact", "footstep", "whoosh", "ambience")
    assert KIND_TRACKS["impact"] == "Foley Impacts"
    assert Options().kinds == list(kinds.KINDS)
    assert kinds.tracks_json()[0] == {"name": "Foley Impacts", "kind": "impact"}
    assert [t["kind"] for t in kinds.tracks_json()] == list(kinds.KINDS)
    assert kinds.kind("footstep").transient and not kinds.kind("ambience").transient


def test_no_stray_copies_of_the_kind_list() -> None:
    """No other module spells out three or more kinds in a row (a copy of the list) or names a kind's track."""
    name = r"""["'](?:impact|footstep|whoosh|ambience)["']"""
    listing = re.compile(rf"{name}\s*,\s*{name}\s*,\s*{name}")
    tracks = [k.track for k in kinds.KIND_TABLE]
    offenders = []
    for folder in ("bridge", "models", "adapters"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == ROOT / "bridge" / "kinds.py":
                continue
            text = path.read_text(encoding="utf-8")
            if listing.search(text) or any(f'"{t}"' in text for t in tracks):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


@pytest.mark.parametrize("value, shown", [(",", "','"), ("impact,bogus", "'bogus'"), ("", "''"),
                                          ("impact,,footstep", "'impact,,footstep'")])
def test_bad_kinds_name_the_value(value: str, shown: str) -> None:
    with pytest.raises(InputError, match=re.escape(shown)):
        Options.from_dict({"kinds": value})


def test_kinds_text_is_parsed_and_deduplicated() -> None:
    assert Options.from_dict({"kinds": "impact, footstep,impact"}).kinds == ["impact", "footstep"]


def test_cli_bad_kinds_exit_2_naming_the_value(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    for value, shown in ((",", "','"), ("impact,boom", "'boom'")):
        proc = subprocess.run([sys.executable, "-m", "bridge", "run", str(video), "--kinds", value],
                              capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert shown in proc.stderr and proc.stderr.count("\n") == 1
        assert not list(tmp_path.glob("*.foley"))
