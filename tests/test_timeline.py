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


# --- exports on a long job: no drift, descriptors equal to the files --------------------------------------

LONG_S = 240.0
TL_START = 3600.0


@pytest.fixture(scope="module")
def long_job(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Placement]]:
    """A generated 4-minute job: ~300 real stereo 24-bit BWF clips of assorted lengths, overlapping in places."""
    import numpy as np

    from bridge.bwf import write_bwf

    root = tmp_path_factory.mktemp("long")
    rng = np.random.default_rng(7)
    kinds = list(KIND_TRACKS)
    ps, t, i = [], TL_START + 0.013, 0
    while t < TL_START + LONG_S - 1.0:
        i += 1
        kind = kinds[int(rng.integers(len(kinds)))]
        samples = int(rng.integers(round(0.03 * SR), round(0.9 * SR)))
        start = round(t * SR) / SR
        path = root / f"{i:04d}_{kind}.wav"
        write_bwf(path, rng.uniform(-0.1, 0.1, (2, samples)), SR, round(start * SR), kind)
        snap = float(rng.uniform(0.0, min(0.05, samples / SR)))
        ps.append(Placement(event_id=i, kind=kind, track="", path=str(path), record_in_s=start,
                            duration_s=samples / SR, snap_offset_s=snap, gain_db=0.0, pan=0.0,
                            metadata={"id": i, "kind": kind, "snap_offset_s": snap}))
        t += float(rng.uniform(0.05, 1.4))
    return root, ps


RATES = {"24": 24.0, "25": 25.0, "29.97": 30000 / 1001}


@pytest.mark.parametrize("rate_name", list(RATES))
def test_long_job_exports_have_no_drift(long_job, tmp_path: Path, rate_name: str) -> None:
    import copy
    import subprocess
    import sys
    import xml.etree.ElementTree as ET

    import aaf2
    import soundfile as sf

    _, base = long_job
    rate = RATES[rate_name]
    ps = copy.deepcopy(base)
    assign_tracks(ps, KIND_TRACKS, [rate])
    tl = build_timeline("long", ps, list(KIND_TRACKS.values()), TL_START, SR, rate)
    assert write_exports(tl, tmp_path, ["otio", "xml", "aaf"], rate) == ["foley.otio", "foley.xml", "foley.aaf"]
    by_path = {p.path: p for p in ps}
    wav = {p.path: sf.info(p.path) for p in ps}
    assert len(ps) > 200

    def check_frames(read: otio.schema.Timeline, what: str) -> float:
        start = read.global_start_time.to_seconds() if read.global_start_time else 0.0
        seen, worst = set(), 0.0
        for track in read.audio_tracks():
            for clip in track.find_clips():
                path = otio.url_utils.filepath_from_url(clip.media_reference.target_url)
                p = by_path[path]
                seen.add(path)
                at = start + track.range_of_child(clip).start_time.to_seconds()
                err = abs(at + p.snap_offset_s - (p.record_in_s + p.snap_offset_s))
                worst = max(worst, err)
                assert err <= 0.5 / rate + 1e-6, (what, path, err * rate)
                # the clip plays from the file's first sample and ends inside the WAV
                assert clip.source_range.start_time == clip.media_reference.available_range.start_time
                length_s, wav_s = clip.source_range.duration.to_seconds(), wav[path].frames / SR
                if wav_s >= 1 / rate:
                    assert wav_s - 1 / rate < length_s <= wav_s + 1e-9, (what, path)
                else:  # a clip shorter than a frame still gets one (documented)
                    assert clip.source_range.duration.value == 1
                # the file's start timecode is its BWF time reference
                tref = round(p.record_in_s * SR)
                assert clip.media_reference.available_range.start_time.value == round(tref / SR * rate)
        assert seen == set(by_path), f"{what}: clips missing"
        return worst

    xml_tl = otio.adapters.read_from_file(str(tmp_path / "foley.xml"))
    worst_xml = check_frames(xml_tl, "xml")
    root = ET.parse(tmp_path / "foley.xml").getroot()
    items = list(root.iter("clipitem"))
    assert len(items) == len(ps)
    for item in items:
        assert len(item.findall("rate")) == 1
        audio = item.find("file/media/audio")
        assert audio is not None and audio.findtext("channelcount") == "2"
        assert audio.findtext("samplecharacteristics/samplerate") == "48000"
        assert audio.findtext("samplecharacteristics/depth") == "24"

    aaf_tl = otio.adapters.read_from_file(str(tmp_path / "foley.aaf"))
    worst_aaf = check_frames(aaf_tl, "aaf")
    with aaf2.open(str(tmp_path / "foley.aaf")) as f:
        descs = {}
        for mob in f.content.sourcemobs():
            d = mob.descriptor
            if isinstance(d, aaf2.essence.PCMDescriptor):
                [loc] = d["Locator"].value
                descs[otio.url_utils.filepath_from_url(loc["URLString"].value)] = d
        assert set(descs) == set(by_path)
        for path, d in descs.items():
            info = wav[path]
            assert d["Channels"].value == info.channels == 2
            assert d["QuantizationBits"].value == 24 and info.subtype == "PCM_24"
            assert float(d["SampleRate"].value) == float(d["AudioSamplingRate"].value) == info.samplerate
            assert d["Length"].value == info.frames
        for mob in f.content.compositionmobs():
            for slot in mob.slots:
                assert not isinstance(slot.segment, aaf2.components.OperationGroup), "no empty Audio Pan"

    back = otio.adapters.read_from_file(str(tmp_path / "foley.otio"))
    got = {d["path"]: d for d in placements_from_timeline(back)}
    for p in ps:  # the .otio keeps every clip to the sample, and its media range is the BWF file
        assert got[p.path]["record_in_s"] == pytest.approx(p.record_in_s, abs=0.5 / SR)
    stats = subprocess.run([str(Path(sys.executable).parent / "otiotool"), "-i", str(tmp_path / "foley.otio"),
                            "--stats"], capture_output=True, text=True)
    assert stats.returncode == 0, stats.stderr
    print(f"{rate_name} fps: {len(ps)} clips, worst transient offset xml {worst_xml * 1000:.2f} ms, "
          f"aaf {worst_aaf * 1000:.2f} ms (half a frame {500 / rate:.2f} ms)")


def test_lanes_follow_the_frames_a_host_rounds_to() -> None:
    """Clips that touch in samples but share a frame once rounded (start to the nearest frame, length up) go
    on separate lanes when the picture rate is known."""
    a = _p(1, "impact", 25.6 / 25, 2.1 / 25)   # frames 25.6 .. 27.7: placed on [26, 29)
    b = _p(2, "impact", 27.7 / 25, 0.4)        # starts where a ends, in samples: frame 28, inside a's span
    plain = [_p(1, "impact", a.record_in_s, a.duration_s), _p(2, "impact", b.record_in_s, b.duration_s)]
    assign_tracks(plain, KIND_TRACKS)
    assert [p.track for p in plain] == ["Foley Impacts", "Foley Impacts"]
    assign_tracks([a, b], KIND_TRACKS, [25])
    assert [a.track, b.track] == ["Foley Impacts", "Foley Impacts 2"]
