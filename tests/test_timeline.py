"""OTIO building: tracks per category, lanes for overlaps, placements read back from the file."""
from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest

from bridge.event import KIND_TRACKS
from bridge.timeline import Placement, assign_tracks, build_timeline, placements_from_timeline, write_exports

SR = 48000


def _p(i: int, kind: str, start: float, dur: float, snap: float = 0.005) -> Placement:
    return Placement(event_id=i, kind=kind, track="", path=f"/tmp/clips/{i:04d}_{kind}.wav", record_in_s=start,
                     duration_s=dur, snap_offset_s=snap, gain_db=-6.0, pan=-0.2,
                     metadata={"id": i, "kind": kind, "snap_offset_s": snap, "gain_db": -6.0, "pan": -0.2})


def test_overlapping_clips_get_extra_lanes() -> None:
    ps = [_p(1, "impact", 1.0, 1.0), _p(2, "impact", 1.5, 1.0), _p(3, "impact", 2.6, 0.2), _p(4, "whoosh", 1.2, 0.5)]
    assign_tracks(ps, KIND_TRACKS)
    assert [p.track for p in ps] == ["Foley Impacts", "Foley Impacts 2", "Foley Impacts", "FX Whooshes"]


def test_timeline_round_trip_positions(tmp_path: Path) -> None:
    ps = [_p(1, "impact", 11.2345, 0.8), _p(2, "footstep", 10.5, 0.3), _p(3, "impact", 13.0, 0.5),
          _p(4, "ambience", 10.0, 4.0, snap=0.0)]
    assign_tracks(ps, KIND_TRACKS)
    tl = build_timeline("t", ps, list(KIND_TRACKS.values()), timeline_start_s=10.0, sample_rate=SR, picture_rate=25)
    path = tmp_path / "t.otio"
    otio.adapters.write_to_file(tl, str(path))
    back = otio.adapters.read_from_file(str(path))
    assert [t.name for t in back.audio_tracks()] == ["Foley Impacts", "Foley Footsteps", "Ambience"]
    assert sum(len(list(t.find_clips())) for t in back.audio_tracks()) == 4
    got = {d["id"]: d for d in placements_from_timeline(back)}
    for p in ps:  # absolute timeline seconds, sample exact
        assert got[p.event_id]["record_in_s"] == pytest.approx(p.record_in_s, abs=0.5 / SR)
        assert got[p.event_id]["duration_s"] == pytest.approx(p.duration_s, abs=0.5 / SR)
        assert got[p.event_id]["track"] == p.track
    assert got[1]["path"] == "/tmp/clips/0001_impact.wav"
    assert got[1]["snap_offset_s"] == pytest.approx(0.005)
    assert got[1]["gain_db"] == -6.0 and got[1]["pan"] == -0.2


def test_exports_fcp_xml_and_aaf(tmp_path: Path) -> None:
    ps = [_p(1, "impact", 1.0, 0.5), _p(2, "whoosh", 2.0, 0.7)]
    assign_tracks(ps, KIND_TRACKS)
    tl = build_timeline("t", ps, list(KIND_TRACKS.values()), 0.0, SR, 25)
    written = write_exports(tl, tmp_path, ["otio", "xml", "aaf"], 25)
    assert written == ["foley.otio", "foley.xml", "foley.aaf"]
    xml = otio.adapters.read_from_file(str(tmp_path / "foley.xml"))
    clips = [c for t in xml.audio_tracks() for c in t.find_clips()]
    assert len(clips) == 2
    starts = sorted(t.range_of_child(c).start_time.to_seconds() for t in xml.audio_tracks() for c in t.find_clips())
    assert starts == pytest.approx([1.0, 2.0], abs=1 / 25)
    assert (tmp_path / "foley.aaf").stat().st_size > 1000
