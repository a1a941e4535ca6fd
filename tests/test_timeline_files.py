"""Timeline files written by OTIO's own adapters, read back into requests, and run by the engine."""
from __future__ import annotations

import json

import opentimelineio as otio
import pytest

from adapters.timeline_files import read_timeline_request
from bridge.errors import InputError
from tests.daemon_utils import tiny_video

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange


def edit(video_a, video_b, media_start: int = 0) -> otio.schema.Timeline:
    """Two clips with a gap, on a timeline that starts at 01:00:00:00 (25 fps)."""
    tl = otio.schema.Timeline(name="scene 12", global_start_time=RT(3600 * 25, 25))
    video = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    tl.tracks.append(video)
    ref_a = otio.schema.ExternalReference(target_url=otio.url_utils.url_from_filepath(str(video_a)),
                                          available_range=TR(RT(media_start, 25), RT(50, 25)))
    video.append(otio.schema.Clip(name="a", media_reference=ref_a, source_range=TR(RT(media_start + 5, 25),
                                                                                   RT(10, 25))))
    video.append(otio.schema.Gap(source_range=TR(RT(0, 25), RT(7, 25))))
    ref_b = otio.schema.ExternalReference(target_url=otio.url_utils.url_from_filepath(str(video_b)),
                                          available_range=TR(RT(media_start, 25), RT(50, 25)))
    video.append(otio.schema.Clip(name="b", media_reference=ref_b, source_range=TR(RT(media_start, 25),
                                                                                   RT(20, 25))))
    tl.tracks.append(otio.schema.Track(kind=otio.schema.TrackKind.Audio))
    return tl


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("tlvideos")
    return tiny_video(root / "a.mp4", seconds=2.0), tiny_video(root / "b.mp4", seconds=2.0)


@pytest.mark.parametrize("suffix,kwargs", [(".otio", {}), (".xml", {}), (".aaf", {"use_empty_mob_ids": True})])
def test_round_trip_through_each_adapter(tmp_path, videos, suffix, kwargs):
    path = tmp_path / f"edit{suffix}"
    otio.adapters.write_to_file(edit(*videos), str(path), **kwargs)
    req = read_timeline_request(path, options={"seed": 3})
    assert req.fps == 25.0 and req.timeline_start_s == 3600.0 and req.name == "scene 12"
    assert req.options.seed == 3
    got = [(it.path, it.source_in_s, it.source_out_s, it.record_in_s) for it in req.items]
    assert got == [(str(videos[0]), pytest.approx(0.2), pytest.approx(0.6), pytest.approx(3600.0)),
                   (str(videos[1]), pytest.approx(0.0), pytest.approx(0.8), pytest.approx(3600.68))]


def test_source_times_are_media_times_when_media_has_a_timecode(tmp_path, videos):
    path = tmp_path / "tc.otio"
    otio.adapters.write_to_file(edit(*videos, media_start=90000), str(path))  # media starts at 01:00:00:00
    req = read_timeline_request(path)
    assert [round(it.source_in_s, 6) for it in req.items] == [0.2, 0.0]


def test_relative_url_is_taken_from_the_timeline_folder(tmp_path, videos):
    tl = edit(*videos)
    clip = next(iter(tl.find_clips()))
    clip.media_reference.target_url = "media/a.mp4"
    path = tmp_path / "rel.otio"
    otio.adapters.write_to_file(tl, str(path))
    assert read_timeline_request(path).items[0].path == str(tmp_path / "media" / "a.mp4")


def test_engine_runs_a_timeline_request(tmp_path, videos):
    from bridge.pipeline import Engine

    path = tmp_path / "edit.otio"
    otio.adapters.write_to_file(edit(*videos), str(path))
    req = read_timeline_request(path)
    req.output_dir = str(tmp_path / "out")
    result = Engine(device="cpu").run(req)
    doc = json.loads((tmp_path / "out" / "result.json").read_text())
    assert doc["placements"] and result.events
    for placement in doc["placements"]:  # everything lands inside the two clips' timeline spans
        assert 3600.0 - 1e-6 <= placement["record_in_s"] < 3600.0 + 0.4 + 0.28 + 0.8


@pytest.mark.parametrize("content,suffix,match", [
    ("not json at all", ".otio", "cannot read timeline"),
    ('{"OTIO_SCHEMA": "Timeline.1", "name": "empty", "tracks": {"OTIO_SCHEMA": "Stack.1", "children": []}}',
     ".otio", "no enabled video clips"),
    ("<xmeml>", ".xml", "cannot read timeline"),
    ("x", ".edl", "not a timeline file"),
])
def test_bad_timeline_files_raise_input_error(tmp_path, content, suffix, match):
    path = tmp_path / f"bad{suffix}"
    path.write_text(content)
    with pytest.raises(InputError, match=match):
        read_timeline_request(path)
