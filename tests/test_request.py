"""Request and option validation: every bad value is named in the error."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.errors import InputError
from bridge.options import Options
from bridge.request import load_request, parse_request

GOOD = {"version": 1, "host": "reaper", "fps": 25, "timeline_start_s": 3600.0,
        "items": [{"path": "/v/a.mov", "source_in_s": 1.0, "source_out_s": 4.0, "record_in_s": 3610.0}],
        "options": {"spatial": False, "precision": "high", "music_suppression": 0.5}, "output_dir": "/tmp/o"}


def test_good_request_parses() -> None:
    req = parse_request(GOOD)
    assert req.items[0].record_in_s == 3610.0 and req.timeline_start_s == 3600.0
    assert req.options.spatial is False and req.options.precision == "high"


@pytest.mark.parametrize("patch, needle", [
    ({"version": 2}, "version 2"),
    ({"items": []}, "items"),
    ({"items": [{"source_in_s": 1}]}, "items[0]"),
    ({"items": [{"path": "/a", "source_in_s": "x"}]}, "'x'"),
    ({"fps": -1}, "fps"),
    ({"options": {"precision": "ultra"}}, "'ultra'"),
    ({"options": {"music_suppression": 2}}, "2"),
    ({"options": {"colour": 1}}, "'colour'"),
    ({"options": {"formats": ["edl"]}}, "'edl'"),
    ({"options": {"kinds": ["explosion"]}}, "'explosion'"),
])
def test_bad_requests_name_the_bad_value(patch: dict, needle: str) -> None:
    with pytest.raises(InputError) as err:
        parse_request({**GOOD, **patch})
    assert needle in str(err.value)


def test_load_request_from_string_and_file(tmp_path: Path) -> None:
    assert load_request(json.dumps(GOOD)).host == "reaper"
    f = tmp_path / "r.json"
    f.write_text(json.dumps(GOOD))
    assert load_request(str(f)).fps == 25
    with pytest.raises(InputError, match="does not exist"):
        load_request(str(tmp_path / "missing.json"))
    with pytest.raises(InputError, match="not valid JSON"):
        load_request("{nope")


def test_option_aliases_match_the_python_api() -> None:
    o = Options.from_dict({"enable_spatial_audio": False, "match_precision": "high",
                           "background_music_suppression": 0.1, "format": "otio,xml"})
    assert (o.spatial, o.precision, o.music_suppression, o.formats) == (False, "high", 0.1, ["otio", "xml"])
