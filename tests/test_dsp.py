"""models.dsp against scipy.signal, which it stands in for in the sound stages."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.signal as ss

from models import dsp

SR = 48000


def test_kaiser_lowpass_is_firwins() -> None:
    for taps, cutoff in ((81, 0.25), (3201, 1 / 160), (41, 0.5)):
        assert np.allclose(dsp.kaiser_lowpass(taps, cutoff), ss.firwin(taps, cutoff, window=("kaiser", 5.0)),
                           rtol=0, atol=1e-12)


@pytest.mark.parametrize("up,down", [(4, 1), (2, 1), (3, 1), (160, 147), (147, 160), (1, 2), (1, 4), (2, 3),
                                     (1, 1), (8, 4)])
def test_resample_poly_is_scipys(up: int, down: int) -> None:
    rng = np.random.default_rng(up * 1000 + down)
    for n in (1, 7, 30, 1000, 20011):
        x = rng.standard_normal(n).astype(np.float32)
        want = ss.resample_poly(x, up, down)
        got = dsp.resample_poly(x, up, down)
        assert got.shape == want.shape and got.dtype == want.dtype
        assert np.allclose(got, want, rtol=0, atol=2e-6 * max(1.0, float(np.abs(want).max())))
    stereo = rng.standard_normal((2, 999))
    assert np.allclose(dsp.resample_poly(stereo, up, down), ss.resample_poly(stereo, up, down, axis=1), atol=1e-9)


def test_a_resampled_click_keeps_its_time() -> None:
    x = np.zeros(44100)
    x[12345] = 1.0
    y = dsp.resample_poly(x, 160, 147)
    assert abs(int(np.argmax(np.abs(y))) - round(12345 * 160 / 147)) <= 1


def test_k_weighting_is_pyloudnorms_and_filters_as_lfilter_does() -> None:
    import pyloudnorm

    rng = np.random.default_rng(1)
    x = rng.standard_normal(3 * SR)
    for rate in (44100, 48000, 96000):
        mine = dsp.k_weighting(rate)
        theirs = list(pyloudnorm.Meter(rate)._filters.values())
        for (b, a), f in zip(mine, theirs):
            assert np.allclose(b, f.b, atol=1e-12) and np.allclose(a, f.a, atol=1e-12)
    want = x
    for b, a in dsp.k_weighting(SR):
        want = ss.lfilter(b, a, want)
    got = dsp.iir(dsp.k_weighting(SR), x)
    assert np.abs(got - want).max() < 1e-9


def test_a_stream_filters_chunk_by_chunk_as_the_whole() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal(50000)
    h = dsp.impulse_response(dsp.k_weighting(SR))
    whole = dsp.Fir(h).stream().process(x)
    stream = dsp.k_weighting_fir(SR).stream()
    parts = [stream.process(x[a:b]) for a, b in ((0, 10), (10, 3000), (3000, 3000), (3000, 41000), (41000, 50000))]
    assert np.abs(np.concatenate(parts) - whole).max() < 1e-10
    assert np.abs(whole - np.convolve(x, h)[:len(x)]).max() < 1e-10


def test_butterworth_and_zero_phase_filters() -> None:
    for fc in (500.0, 3000.0, 16000.0):
        b, a = ss.butter(2, fc, fs=SR)
        mb, ma = dsp.butter_lowpass(fc, SR)
        assert np.allclose(mb, b, atol=1e-12) and np.allclose(ma, a, atol=1e-12)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(20000) * np.hanning(20000)       # quiet at the ends, where the padding differs
    sos = ss.butter(2, 4000.0, fs=SR, output="sos")
    got = dsp.zero_phase([dsp.butter_lowpass(4000.0, SR)], x)
    assert np.abs(got - ss.sosfiltfilt(sos, x)).max() < 1e-6
    click = np.zeros(4001)
    click[2000] = 1.0
    assert int(np.argmax(dsp.zero_phase([dsp.butter_lowpass(2000.0, SR)], click))) == 2000


def test_fftconvolve() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(1234), rng.standard_normal(567)
    assert np.allclose(dsp.fftconvolve(a, b), np.convolve(a, b), atol=1e-10)
    assert len(dsp.fftconvolve(a, np.ones(1))) == len(a)


def test_the_sound_stages_do_not_import_scipy() -> None:
    """A cold run would pay scipy.signal's 0.9 s of imports (it brings scipy.stats) while it decodes."""
    code = ("import sys, numpy as np\n"
            "from models import levels, recorded, space\n"
            "x = np.random.default_rng(0).standard_normal(48000).astype(np.float32) * 0.1\n"
            "levels.loudness_lufs(x, 48000); levels.true_peak_db(x); recorded.resample(x, 44100, 48000)\n"
            "class E: kind = 'impact'; extra = {'room': 'hall', 'size': 0.01}\n"
            "space.apply(x, 48000, E(), 1)\n"
            "print(any(m.startswith('scipy') for m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "False"


def test_running_peak_is_a_zero_bordered_maximum_filter() -> None:
    from scipy.ndimage import maximum_filter1d

    rng = np.random.default_rng(5)
    for n in (1, 5, 22, 23, 24, 1000):
        x = np.abs(rng.standard_normal(n)).astype(np.float32)
        for size in (1, 3, 7, 23, 31):
            want = maximum_filter1d(x, size=size, mode="constant", cval=0.0)
            assert np.array_equal(dsp.running_peak(x, size), want), (n, size)
