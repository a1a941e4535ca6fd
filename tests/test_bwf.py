"""BWF writer: files read back by wavinfo, soundfile and our own bext reader."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from wavinfo import WavInfoReader

from bridge import bwf
from bridge.bwf import read_bext, write_bwf
from bridge.errors import InputError, OutputError

SR = 48000
LSB = 1.0 / (1 << 23)


def _noise(channels: int, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.9, 0.9, (channels, n))


def test_bext_read_back_by_wavinfo(tmp_path: Path) -> None:
    path = tmp_path / "clip.wav"
    ref = 48000 * 3600 * 30 + 17          # above 2**32: exercises TimeReferenceHigh
    when = dt.datetime(2026, 11, 3, 14, 5, 9)
    write_bwf(path, _noise(2, 4800), SR, ref, "impact (metal) at 12.345 s, intensity 0.80", when=when)
    info = WavInfoReader(str(path))
    assert info.bext.time_reference == ref
    assert info.bext.description == "impact (metal) at 12.345 s, intensity 0.80"
    assert info.bext.originator == "foley-bridge"
    assert info.bext.originator_date == "2026-11-03"
    assert info.bext.originator_time == "14:05:09"
    assert info.bext.version == 1
    assert info.fmt.bits_per_sample == 24
    assert info.fmt.sample_rate == SR
    assert info.fmt.channel_count == 2


def test_samples_match_soundfile_within_quantisation(tmp_path: Path) -> None:
    path = tmp_path / "clip.wav"
    audio = _noise(2, 9601, seed=3)
    audio[0, 0], audio[1, 0], audio[0, 1] = 1.0, -1.0, 1.7     # full scale and over: clamped
    write_bwf(path, audio, SR, 0, "x")
    meta = sf.info(str(path))
    assert (meta.samplerate, meta.channels, meta.frames, meta.subtype) == (SR, 2, 9601, "PCM_24")
    back, rate = sf.read(str(path), always_2d=True, dtype="float64")
    expected = np.clip(audio, -1.0, 1.0 - LSB)
    assert rate == SR
    assert np.max(np.abs(back.T - expected)) <= 0.5 * LSB + 1e-12
    assert back[0, 0] == pytest.approx(1.0 - LSB) and back[0, 1] == -1.0


def test_mono_odd_length_and_multichannel(tmp_path: Path) -> None:
    mono = tmp_path / "mono.wav"
    write_bwf(mono, _noise(1, 101)[0], SR, 5, "mono")          # 1-D input is mono; odd data size is padded
    back, _ = sf.read(str(mono), dtype="float64")
    assert back.shape == (101,)
    assert read_bext(mono)["time_reference"] == 5
    quad = tmp_path / "quad.wav"
    audio = _noise(4, 480)
    write_bwf(quad, audio, 44100, 7, "quad")
    assert sf.info(str(quad)).channels == 4 and sf.info(str(quad)).samplerate == 44100
    back, _ = sf.read(str(quad), always_2d=True, dtype="float64")
    assert np.max(np.abs(back.T - audio)) <= 0.5 * LSB + 1e-12
    assert WavInfoReader(str(quad)).bext.time_reference == 7


def test_read_bext_fields(tmp_path: Path) -> None:
    path = tmp_path / "c.wav"
    long_text = "footstep é " + "x" * 300
    write_bwf(path, _noise(2, 10), SR, 123456789, long_text, originator="foley-bridge test")
    fields = read_bext(path)
    assert fields["time_reference"] == 123456789
    assert fields["originator"] == "foley-bridge test"
    assert fields["description"].startswith("footstep ? x") and len(fields["description"]) == 256
    assert fields["coding_history"].startswith("A=PCM,F=48000,W=24,M=stereo")
    plain = tmp_path / "plain.wav"
    sf.write(str(plain), np.zeros(10), SR, subtype="PCM_16")
    assert read_bext(plain) == {}
    with pytest.raises(InputError, match="not a RIFF/WAVE"):
        read_bext(Path(__file__))


def test_dither_is_deterministic_and_small(tmp_path: Path) -> None:
    audio = _noise(2, 2000) * 0.01
    a = bwf.wav_bytes(audio, SR, 0, "d", when=dt.datetime(2026, 1, 1), dither_seed=11)
    b = bwf.wav_bytes(audio, SR, 0, "d", when=dt.datetime(2026, 1, 1), dither_seed=11)
    plain = bwf.wav_bytes(audio, SR, 0, "d", when=dt.datetime(2026, 1, 1))
    assert a == b and a != plain
    path = tmp_path / "d.wav"
    path.write_bytes(a)
    back, _ = sf.read(str(path), always_2d=True, dtype="float64")
    assert np.max(np.abs(back.T - audio)) <= 1.5 * LSB + 1e-12


@pytest.mark.parametrize("audio, rate, ref, needle", [
    (np.full((2, 4), np.nan), SR, 0, "NaN"),
    (np.zeros((2, 2, 2)), SR, 0, "(2, 2, 2)"),
    (np.zeros((2, 4)), 0, 0, "sample rate 0"),
    (np.zeros((2, 4)), 48000.5, 0, "48000.5"),
    (np.zeros((2, 4)), SR, -1, "time reference -1"),
    (np.zeros((2, 4)), SR, 1 << 64, "time reference"),
    (np.zeros((40, 4)), SR, 0, "40 channels"),
    (np.zeros((2, 4), np.int16), SR, 0, "int16"),
])
def test_bad_input_is_refused_by_name(tmp_path: Path, audio: np.ndarray, rate: float, ref: int,
                                      needle: str) -> None:
    with pytest.raises(InputError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        write_bwf(tmp_path / "bad.wav", audio, rate, ref, "bad")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        write_bwf(tmp_path / "nope" / "c.wav", np.zeros((2, 4)), SR, 0, "x")
    with pytest.raises(OutputError, match="is a folder"):
        write_bwf(tmp_path, np.zeros((2, 4)), SR, 0, "x")


def test_failed_write_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "clip.wav"
    write_bwf(path, _noise(2, 100), SR, 1, "first")
    before = path.read_bytes()

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OutputError, match="No space left"):
        write_bwf(path, _noise(2, 100, seed=9), SR, 2, "second")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.wav"]


def test_unwritable_folder_is_an_output_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running with privileges that ignore folder permissions")
        with pytest.raises(OutputError, match="cannot write WAV"):
            write_bwf(folder / "c.wav", np.zeros((2, 4)), SR, 0, "x")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_sync_cue_and_ucs_ixml_read_back_by_wavinfo(tmp_path: Path) -> None:
    """The clip's sync point as a cue marker (and in iXML), and its UCS fields in iXML, as sound-effects
    librarians and DAWs read them."""
    from bridge.bwf import ucs_ixml

    path = tmp_path / "clip.wav"
    ucs = {"cat_id": "DOORWood", "category": "DOORS", "subcategory": "WOOD"}
    ixml = ucs_ixml(ucs, "Door slam & rattle", "wooden door slammed <hard>", sync_sample=1234)
    write_bwf(path, _noise(2, 4801), SR, 48000 * 10, "door", cue_sample=1234, ixml=ixml)
    info = WavInfoReader(str(path))
    assert list(info.cues.each_cue()) == [(1, 1234)]
    assert info.cues.label_and_note(1)[0] == "sync"
    xml = info.ixml.raw_xml
    assert xml.findtext("USER/CATID") == "DOORWood" and xml.findtext("USER/CATEGORY") == "DOORS"
    assert xml.findtext("USER/SUBCATEGORY") == "WOOD" and xml.findtext("USER/CATEGORYFULL") == "DOORS-WOOD"
    assert xml.findtext("USER/FXNAME") == "Door slam & rattle"
    assert xml.findtext("USER/DESCRIPTION") == "wooden door slammed <hard>"
    assert xml.findtext("ASWG/catId") == "DOORWood" and xml.findtext("ASWG/fxName") == "Door slam & rattle"
    assert xml.findtext("SYNC_POINT_LIST/SYNC_POINT/SYNC_POINT_LOW") == "1234"
    assert info.bext.time_reference == 480000 and info.fmt.channel_count == 2
    back, _ = sf.read(str(path), always_2d=True)  # other readers skip the extra chunks
    assert back.shape == (4801, 2)


def test_ixml_without_ucs_keeps_what_is_known(tmp_path: Path) -> None:
    from bridge.bwf import ucs_ixml

    path = tmp_path / "clip.wav"
    write_bwf(path, _noise(2, 100), SR, 0, "x", cue_sample=0, ixml=ucs_ixml(None, "impact", "synth impact"))
    xml = WavInfoReader(str(path)).ixml.raw_xml
    assert xml.findtext("USER/CATID") is None and xml.findtext("USER/FXNAME") == "impact"
    with pytest.raises(InputError, match="cue point 101"):
        write_bwf(path, _noise(2, 100), SR, 0, "x", cue_sample=101)
