"""Mixing math, checked on arrays and on WAV files written and read back."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge import mixing
from bridge.bwf import write_bwf
from bridge.errors import InputError
from models.sound import Sound

SR = 48000


def _sound(peak: float = 0.5, n: int = 4800) -> Sound:
    t = np.arange(n) / SR
    audio = (peak * np.sin(2 * np.pi * 440 * t) * np.exp(-t * 20)).astype(np.float32)
    audio *= peak / np.max(np.abs(audio))
    return Sound(audio=audio, sample_rate=SR, snap_offset_s=0.0, backend="test", description="tone")


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def test_pan_gains_equal_power() -> None:
    assert mixing.pan_gains(0.0) == pytest.approx((1.0, 0.0))
    assert mixing.pan_gains(0.5) == pytest.approx((0.70710678, 0.70710678))
    assert mixing.pan_gains(1.0) == pytest.approx((0.0, 1.0), abs=1e-12)
    for x in np.linspace(0.0, 1.0, 11):
        gl, gr = mixing.pan_gains(float(x))
        assert gl * gl + gr * gr == pytest.approx(1.0)
    assert mixing.pan_gains(-0.4) == mixing.pan_gains(0.0)
    assert mixing.pan_gains(1.3) == mixing.pan_gains(1.0)
    with pytest.raises(InputError, match="nan"):
        mixing.pan_gains(float("nan"))


def test_pan_of_and_gain_db_of() -> None:
    assert mixing.pan_of(0.0) == -1.0 and mixing.pan_of(0.5) == 0.0 and mixing.pan_of(1.0) == 1.0
    assert mixing.pan_of(0.1) == pytest.approx(-0.8)
    assert mixing.gain_db_of(_sound(0.5)) == pytest.approx(20 * math.log10(0.5), abs=1e-4)
    silent = Sound(np.zeros(10, np.float32), SR, 0.0, "test", "silence")
    assert mixing.gain_db_of(silent) == mixing.SILENCE_DB


def test_render_clip_shapes_and_centre() -> None:
    snd = _sound()
    clip = mixing.render_clip(snd, 0.9, spatial=True)
    assert clip.shape == (2, snd.audio.size) and clip.dtype == np.float32
    assert _rms(clip[1]) > _rms(clip[0])
    flat = mixing.render_clip(snd, 0.9, spatial=False)
    assert np.array_equal(flat[0], flat[1])
    np.testing.assert_allclose(flat[0], snd.audio * np.float32(math.sqrt(0.5)), rtol=1e-6)
    centred = mixing.render_clip(snd, 0.5, spatial=True)
    np.testing.assert_allclose(centred, flat, rtol=1e-6)
    with pytest.raises(InputError, match="mono"):
        mixing.render_clip(Sound(np.zeros((2, 4), np.float32), SR, 0.0, "t", "d"), 0.5, True)


def test_pan_direction_survives_the_wav(tmp_path: Path) -> None:
    snd = _sound(0.8)
    left = tmp_path / "left.wav"
    write_bwf(left, mixing.render_clip(snd, 0.1, spatial=True), SR, 0, "left")
    back, _ = sf.read(str(left), always_2d=True)
    assert _rms(back[:, 0]) > 4 * _rms(back[:, 1])
    right = tmp_path / "right.wav"
    write_bwf(right, mixing.render_clip(snd, 0.85, spatial=True), SR, 0, "right")
    back, _ = sf.read(str(right), always_2d=True)
    assert _rms(back[:, 1]) > 2 * _rms(back[:, 0])
    centre = tmp_path / "centre.wav"
    write_bwf(centre, mixing.render_clip(snd, 0.1, spatial=False), SR, 0, "centre")
    back, _ = sf.read(str(centre), always_2d=True)
    assert np.array_equal(back[:, 0], back[:, 1])
    assert np.max(np.abs(back[:, 0])) == pytest.approx(0.8 * math.sqrt(0.5), abs=1e-6)


def test_mix_into_clips_at_the_edges() -> None:
    clip = np.vstack([np.arange(1, 6), -np.arange(1, 6)]).astype(np.float32)     # (2, 5)
    buf = np.zeros((2, 10), np.float32)
    mixing.mix_into(buf, clip, 3)
    assert buf[0].tolist() == [0, 0, 0, 1, 2, 3, 4, 5, 0, 0]
    buf = np.zeros((2, 10), np.float32)
    mixing.mix_into(buf, clip, -2)
    assert buf[0].tolist() == [3, 4, 5, 0, 0, 0, 0, 0, 0, 0]
    assert buf[1].tolist() == [-3, -4, -5, 0, 0, 0, 0, 0, 0, 0]
    buf = np.zeros((2, 10), np.float32)
    mixing.mix_into(buf, clip, 8)
    mixing.mix_into(buf, clip, 8)                     # sums, does not overwrite
    assert buf[0].tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 2, 4]
    before = buf.copy()
    mixing.mix_into(buf, clip, 10)
    mixing.mix_into(buf, clip, -5)
    mixing.mix_into(buf, clip, -100)
    assert np.array_equal(buf, before)
    with pytest.raises(InputError, match="does not match"):
        mixing.mix_into(np.zeros((1, 10), np.float32), clip, 0)


def test_duck() -> None:
    original = np.full((2, 8), 0.5, np.float32)
    assert np.allclose(mixing.duck(original, 0.3), 0.35)
    assert np.array_equal(mixing.duck(original, 0.0), original)
    assert not np.any(mixing.duck(original, 1.0))
    assert mixing.duck(original, 0.3).dtype == np.float32
    with pytest.raises(InputError, match="1.5"):
        mixing.duck(original, 1.5)
