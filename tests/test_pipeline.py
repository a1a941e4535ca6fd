"""The whole job end to end on generated videos: events, clips, OTIO, BWF, pan, mix, export, API."""
from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import pytest
import soundfile as sf
from wavinfo import WavInfoReader

import bridge
import bridge.errors
from bridge.pipeline import SAMPLE_RATE
from videos import Mover, drop, scene

SR = SAMPLE_RATE


@pytest.fixture(scope="module")
def two_drops(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """Left object hits the floor at 0.9 s, right object at 1.7 s (each bounces once more)."""
    path = tmp_path_factory.mktemp("v") / "drops.mp4"
    truth = scene(path, [Mover(drop(0.2, 0.1, 0.9), seed=1), Mover(drop(0.8, 0.9, 1.7), color=(40, 90, 230), seed=2)],
                  seconds=3.0)
    return path, truth


@pytest.fixture(scope="module")
def result(two_drops: tuple[Path, object], tmp_path_factory: pytest.TempPathFactory):
    video, _ = two_drops
    out = tmp_path_factory.mktemp("o") / "drops.foley"
    return bridge.load(str(video)).generate_foley(enable_spatial_audio=True, match_precision="normal",
                                                  background_music_suppression=0.3, seed=7, output_dir=out)


def test_impacts_found_within_one_frame(result, two_drops) -> None:
    _, truth = two_drops
    found = [e.time_s for e in result.events if e.kind == "impact"]
    for t in truth.impact_times:  # both hits and both bounces
        assert min(abs(f - t) for f in found) <= 1 / truth.fps, (t, found)


def test_events_json_shape(result) -> None:
    doc = json.loads((result.output_dir / "events.json").read_text())
    assert doc["version"] == 1
    assert set(doc["source"]) >= {"path", "fps", "duration_s", "width", "height", "has_audio"}
    assert doc["source"]["fps"] == pytest.approx(30.0)
    keys = {"id", "kind", "time_s", "duration_s", "confidence", "x", "y", "intensity", "clip", "track", "snap_offset_s"}
    assert doc["events"] and all(keys <= set(e) for e in doc["events"])
    for e in doc["events"]:
        assert (result.output_dir / e["clip"]).is_file()
        assert 0 <= e["x"] <= 1 and 0 <= e["y"] <= 1
    assert [e["id"] for e in doc["events"]] == list(range(1, len(doc["events"]) + 1))


def test_otio_read_back_places_transients_on_event_times(result) -> None:
    tl = otio.adapters.read_from_file(str(result.output_dir / "foley.otio"))
    events = {e.id: e for e in result.events}
    clips = [(t, c) for t in tl.audio_tracks() for c in t.find_clips()]
    assert len(clips) == len(events)
    names = {t.name for t in tl.audio_tracks()}
    assert "Foley Impacts" in names and "Ambience" in names
    for track, clip in clips:
        meta = clip.metadata["foley_bridge"]
        ev = events[meta["id"]]
        start = track.range_of_child(clip).start_time.to_seconds()
        assert start + meta["snap_offset_s"] == pytest.approx(ev.time_s, abs=1.0 / SR)
        path = Path(otio.url_utils.filepath_from_url(clip.media_reference.target_url))
        assert path.is_file() and path.parent.parent == result.output_dir
        assert clip.duration().to_seconds() == pytest.approx(sf.info(str(path)).duration, abs=1.0 / SR)


def test_clips_are_bwf_with_time_reference(result) -> None:
    placements = {p["id"]: p for p in result.result["placements"]}
    for ev in result.events:
        path = result.output_dir / ev.clip
        info = sf.info(str(path))
        assert (info.samplerate, info.subtype, info.channels) == (48000, "PCM_24", 2)
        bext = WavInfoReader(str(path)).bext
        assert bext.time_reference == round(placements[ev.id]["record_in_s"] * SR)
        assert ev.kind in bext.description


def test_pan_follows_screen_position(result) -> None:
    impacts = [e for e in result.events if e.kind == "impact"]
    left = min(impacts, key=lambda e: e.x)
    right = max(impacts, key=lambda e: e.x)
    assert left.x < 0.4 and right.x > 0.6
    for ev, louder in ((left, 0), (right, 1)):
        data, _ = sf.read(str(result.output_dir / ev.clip), always_2d=True)
        rms = np.sqrt((data ** 2).mean(axis=0))
        assert rms[louder] > 1.5 * rms[1 - louder]


def test_mix_and_stems(result, two_drops) -> None:
    mix, sr = sf.read(str(result.output_dir / "mix.wav"), always_2d=True)
    assert sr == SR and abs(len(mix) - 3.0 * SR) <= 1
    assert np.abs(mix).max() > 0.01 and np.abs(mix).max() <= 1.0
    stems = {p.stem for p in (result.output_dir / "stems").glob("*.wav")}
    assert stems == {e.track for e in result.events}


def test_export_copies_video_and_adds_the_mix(result, two_drops, tmp_path: Path) -> None:
    video, _ = two_drops
    out = result.export(tmp_path / "with_foley.mp4")
    with av.open(str(out)) as c, av.open(str(video)) as src:
        assert len(c.streams.audio) == 1 and c.streams.audio[0].rate == 48000
        n_out = sum(1 for p in c.demux(c.streams.video[0]) if p.size)
        n_src = sum(1 for p in src.demux(src.streams.video[0]) if p.size)
        assert n_out == n_src
        assert c.streams.video[0].codec_context.name == src.streams.video[0].codec_context.name


def test_no_spatial_gives_centred_clips_and_seed_is_deterministic(two_drops, tmp_path: Path) -> None:
    video, _ = two_drops
    project = bridge.load(str(video))
    a = project.generate_foley(enable_spatial_audio=False, seed=3, output_dir=tmp_path / "a", kinds=["impact"])
    b = project.generate_foley(enable_spatial_audio=False, seed=3, output_dir=tmp_path / "b", kinds=["impact"])
    assert a.events and all(e.kind == "impact" for e in a.events)
    for ea, eb in zip(a.events, b.events):
        da, _ = sf.read(str(a.output_dir / ea.clip))
        db, _ = sf.read(str(b.output_dir / eb.clip))
        assert np.array_equal(da, db)
        assert np.array_equal(da[:, 0], da[:, 1])


def test_range_keeps_media_time_and_formats(two_drops, tmp_path: Path) -> None:
    video, _ = two_drops
    res = bridge.load(str(video)).generate_foley(start_s=1.2, end_s=2.8, output_dir=tmp_path / "r",
                                                 formats=["otio", "xml", "aaf"])
    assert all(1.2 - 1e-6 <= e.time_s < 2.8 for e in res.events)
    assert any(abs(e.time_s - 1.7) <= 1 / 30 for e in res.events if e.kind == "impact")
    assert {"foley.otio", "foley.xml", "foley.aaf"} <= {p.name for p in res.output_dir.iterdir()}
    mix = sf.info(str(res.output_dir / "mix.wav"))
    assert mix.frames == round(1.6 * SR)
    assert WavInfoReader(str(res.output_dir / "mix.wav")).bext.time_reference == round(1.2 * SR)


def test_request_with_two_items_makes_one_timeline(two_drops, tmp_path: Path) -> None:
    """A host selection of two clips: events land at record time on one timeline that starts at 3600 s."""
    from bridge.pipeline import Engine
    from bridge.request import parse_request

    video, _ = two_drops
    req = parse_request({"version": 1, "host": "resolve", "fps": 30, "timeline_start_s": 3600.0,
                         "items": [{"path": str(video), "source_in_s": 0.5, "source_out_s": 1.2,
                                    "record_in_s": 3610.0},
                                   {"path": str(video), "source_in_s": 1.5, "source_out_s": 2.0,
                                    "record_in_s": 3620.0}],
                         "options": {"kinds": ["impact"]}, "output_dir": str(tmp_path / "job")})
    res = Engine(device="cpu").run(req)
    tl = otio.adapters.read_from_file(res.result["otio"])
    assert tl.global_start_time.to_seconds() == pytest.approx(3600.0)
    hits = sorted(p["record_in_s"] + p["snap_offset_s"] for p in res.result["placements"])
    # 0.9 s in item 1 -> 3610.4; 1.7 s in item 2 -> 3620.2
    assert any(abs(h - 3610.4) <= 1 / 30 for h in hits) and any(abs(h - 3620.2) <= 1 / 30 for h in hits)
    assert all(3610.0 <= h < 3610.7 or 3620.0 <= h < 3620.5 for h in hits)
    mix = sf.info(res.result["mix"])
    assert mix.frames == round(10.5 * SR)  # 3610.0 .. 3620.5


def test_result_write_copies_with_timeline_pointing_at_the_copy(result, tmp_path: Path) -> None:
    dest = result.write(tmp_path / "copy")
    tl = otio.adapters.read_from_file(str(dest / "foley.otio"))
    paths = [Path(otio.url_utils.filepath_from_url(c.media_reference.target_url)) for c in tl.find_clips()]
    assert paths and all(p.is_file() and p.parent.parent == dest for p in paths)
    doc = json.loads((dest / "result.json").read_text())
    assert all(Path(p["path"]).parent.parent == dest for p in doc["placements"])
    with pytest.raises(bridge.errors.OutputError, match="already exists"):
        result.write(dest)
