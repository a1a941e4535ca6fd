"""Filters, resampling and convolution for the sound stages, in numpy.

scipy.signal has all of this, but importing it brings scipy.stats and more: 0.9 s of CPU in every cold
``foley run``, spent while the video decodes on the same cores (``bench/speed.py``). The sound stages need
little of it:

- :func:`kaiser_lowpass` and :func:`resample_poly`: scipy's Kaiser-windowed low-pass (``firwin``) and its
  polyphase resampler, with the same filter and the same delay removed, so a transient keeps its time;
- biquads (:func:`k_weighting`, :func:`butter_lowpass`) applied through their impulse response, cut where
  it has decayed below 1e-13 of its size, by FFT overlap-add (:class:`Fir`, :func:`iir`,
  :func:`zero_phase`): the recursive filter's output to within that, as fast here as scipy's ``lfilter``;
- :func:`fftconvolve` and :func:`running_peak`.

``tests/test_dsp.py`` checks each against scipy.signal (and the K-weighting against pyloudnorm).
"""
from __future__ import annotations

import functools
import math
from typing import Sequence

import numpy as np

Biquad = tuple[np.ndarray, np.ndarray]   # (b, a), a[0] == 1

#: An impulse response is cut where what is left of it is below this fraction of it (in amplitude).
IIR_TAIL = 1e-13
#: Outputs of the general resampler computed at a time (bounds its gather arrays to a few MB).
RESAMPLE_BLOCK = 1 << 16


def kaiser_lowpass(numtaps: int, cutoff: float, beta: float = 5.0) -> np.ndarray:
    """A linear-phase low-pass FIR with unit gain at 0 Hz; ``cutoff`` relative to Nyquist (scipy's
    ``firwin(numtaps, cutoff, window=("kaiser", beta))``)."""
    m = np.arange(numtaps) - (numtaps - 1) / 2.0
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(numtaps, beta)
    return h / h.sum()


def resample_poly(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """``x`` (n,) or (channels, n) resampled by ``up / down`` along its last axis, as scipy's
    ``resample_poly`` does it (its default Kaiser filter, zeros outside the signal, the filter's delay
    removed): output sample j is the filtered up-sampled signal at input time ``j * down / up``."""
    x = np.asarray(x)
    g = math.gcd(int(up), int(down))
    up, down = int(up) // g, int(down) // g
    if x.ndim == 2:
        return np.stack([resample_poly(row, up, down) for row in x]) if len(x) else x.copy()
    if up == down == 1:
        return x.copy()
    n = x.shape[-1]
    half = 10 * max(up, down)
    h = kaiser_lowpass(2 * half + 1, 1.0 / max(up, down)) * up
    taps = -(-len(h) // up)
    phases = np.zeros(taps * up)
    phases[:len(h)] = h
    phases = phases.reshape(taps, up).T                     # phases[r, k] = h[r + k * up]
    n_out = -(-n * up // down)
    dtype = np.result_type(x.dtype, np.float32)
    xf = x.astype(np.float64, copy=False)
    if down == 1:
        # the outputs j with (j + half) % up == r are conv(x, phases[r]) at (j + half - r) / up, in steps of one
        out = np.empty(n_out, np.float64)
        for r in range(up):
            first = (r - half) % up                           # the first output with this phase
            if first >= n_out:
                continue
            count = len(range(first, n_out, up))
            at = (first + half - r) // up                     # the input index i0 of that output
            full = np.convolve(xf, phases[r])
            take = full[at:at + count]
            out[first::up][:len(take)] = take
            out[first::up][len(take):] = 0.0
        return out.astype(dtype)
    out = np.empty(n_out, np.float64)
    padded = np.concatenate([np.zeros(taps), xf, np.zeros(taps + 1)])
    k = np.arange(taps)
    for lo in range(0, n_out, RESAMPLE_BLOCK):
        j = np.arange(lo, min(n_out, lo + RESAMPLE_BLOCK))
        t = j * down + half
        i0, phase = t // up, t % up
        gathered = padded[np.minimum(i0, n + taps)[:, None] + taps - k[None, :]]
        out[j] = np.einsum("jk,jk->j", phases[phase], gathered)
    return out.astype(dtype)


# --------------------------------------------------------------------------- biquads

def _rbj(kind: str, gain_db: float, q: float, fc: float, rate: float) -> Biquad:
    """A biquad of the RBJ audio-EQ cookbook (as pyloudnorm builds BS.1770's K-weighting from it)."""
    a_ = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * fc / rate
    alpha = math.sin(w0) / (2.0 * q)
    cw, sa = math.cos(w0), 2.0 * math.sqrt(a_) * alpha
    if kind == "high_shelf":
        b = [a_ * ((a_ + 1) + (a_ - 1) * cw + sa), -2 * a_ * ((a_ - 1) + (a_ + 1) * cw),
             a_ * ((a_ + 1) + (a_ - 1) * cw - sa)]
        a = [(a_ + 1) - (a_ - 1) * cw + sa, 2 * ((a_ - 1) - (a_ + 1) * cw), (a_ + 1) - (a_ - 1) * cw - sa]
    elif kind == "high_pass":
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "low_pass":
        b = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    else:
        raise ValueError(f"unknown biquad {kind!r}")
    return np.array(b) / a[0], np.array(a) / a[0]


def k_weighting(rate: float) -> list[Biquad]:
    """ITU-R BS.1770's K-weighting at ``rate``: a +4 dB shelf above 1.5 kHz, then a 38 Hz high-pass."""
    return [_rbj("high_shelf", 4.0, 1.0 / math.sqrt(2.0), 1500.0, rate), _rbj("high_pass", 0.0, 0.5, 38.0, rate)]


def butter_lowpass(fc: float, rate: float) -> Biquad:
    """The second-order Butterworth low-pass at ``fc`` Hz (bilinear, pre-warped: scipy's ``butter(2, fc,
    fs=rate)``)."""
    return _rbj("low_pass", 0.0, 1.0 / math.sqrt(2.0), fc, rate)


def impulse_response(stages: Sequence[Biquad]) -> np.ndarray:
    """The impulse response of biquads in series, as long as it takes to decay below :data:`IIR_TAIL`.

    Sampled from the frequency response on a grid long enough that the periodic copies the sampling
    makes have decayed too (from the poles' radius)."""
    radius = max(float(np.max(np.abs(np.roots(a)))) for _, a in stages)
    if radius >= 1.0:
        raise ValueError("the filter is not stable")
    length = max(16, int(math.ceil(math.log(IIR_TAIL) / math.log(max(radius, 1e-3)))) + 3)
    grid = 1 << int(math.ceil(math.log2(4 * length)))
    spectrum = np.ones(grid // 2 + 1, complex)
    for b, a in stages:
        spectrum *= np.fft.rfft(b, grid) / np.fft.rfft(a, grid)
    return np.fft.irfft(spectrum, grid)[:length]


class Fir:
    """A long FIR ``h`` ready for FFT overlap-add (its spectrum computed once); :meth:`stream` filters."""

    def __init__(self, h: np.ndarray) -> None:
        self.h = np.asarray(h, dtype=np.float64)
        self.fft_size = 1 << max(12, int(math.ceil(math.log2(4 * len(self.h)))))
        self.block = self.fft_size - len(self.h) + 1
        self.spectrum = np.fft.rfft(self.h, self.fft_size)

    def stream(self) -> "FirStream":
        return FirStream(self)


@functools.lru_cache(maxsize=8)
def k_weighting_fir(rate: int) -> Fir:
    """BS.1770's K-weighting at ``rate`` as a :class:`Fir` (kept: every sound and stem is measured)."""
    return Fir(impulse_response(k_weighting(rate)))


class FirStream:
    """Linear convolution with a :class:`Fir` of a signal that comes in chunks: each :meth:`process`
    returns as many samples as it was given, the tail carried into the next (the blocks of a chunk go
    through one batched transform)."""

    def __init__(self, fir: Fir) -> None:
        self.fir = fir
        self._carry = np.zeros(0)

    def process(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        fir = self.fir
        n, b = len(x), fir.block
        blocks = -(-n // b) if n else 0
        tail = len(fir.h) - 1
        out = np.zeros(blocks * b + tail)
        if blocks:
            chunks = np.zeros((blocks, b))
            chunks.reshape(-1)[:n] = x
            y = np.fft.irfft(np.fft.rfft(chunks, fir.fft_size, axis=1) * fir.spectrum, fir.fft_size, axis=1)
            out[:blocks * b] = y[:, :b].reshape(-1)
            if tail:
                spill = np.zeros((blocks + 1, b))
                spill[1:, :tail] = y[:, b:b + tail]
                out[:blocks * b + tail] += spill.reshape(-1)[:blocks * b + tail]
        out[:len(self._carry)] += self._carry
        self._carry = out[n:n + tail].copy() if len(out) > n else np.zeros(0)
        if len(self._carry) < tail:  # a chunk shorter than the tail: what is left carries on
            self._carry = np.concatenate([self._carry, np.zeros(tail - len(self._carry))])
        return out[:n]


def iir(stages: Sequence[Biquad], x: np.ndarray) -> np.ndarray:
    """Biquads in series applied to ``x`` (n,) from rest (scipy's ``lfilter`` stage by stage)."""
    return Fir(impulse_response(stages)).stream().process(x)


def zero_phase(stages: Sequence[Biquad], x: np.ndarray) -> np.ndarray:
    """``x`` (n,) filtered forward and backward (no delay: the squared magnitude response), zeros taken
    outside the signal (scipy's ``sosfiltfilt`` extends it by reflection instead, which differs only in
    the filter's settling time at the ends)."""
    h = impulse_response(stages)
    both = np.convolve(h, h[::-1])
    return fftconvolve(np.asarray(x, dtype=np.float64), both)[len(h) - 1:len(h) - 1 + len(x)]


def running_peak(magnitude: np.ndarray, size: int) -> np.ndarray:
    """The largest of ``magnitude`` (n,) (non-negative) over the ``size`` (odd) samples centred on each,
    zeros taken outside (scipy.ndimage's ``maximum_filter1d`` with a zero border), in log2(size) steps."""
    half = size // 2
    m = np.concatenate([np.zeros(half, magnitude.dtype), magnitude, np.zeros(half, magnitude.dtype)])
    width = 1
    while 2 * width <= size:
        m = np.maximum(m[:-width], m[width:])            # m[i]: the largest of 2 * width from i
        width *= 2
    if width < size:
        n = len(magnitude)
        m = np.maximum(m[:n], m[size - width:size - width + n])
    return m[:len(magnitude)]


def fftconvolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The full linear convolution of two 1-D float arrays, through one FFT each."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n = len(a) + len(b) - 1
    if n <= 0:
        return np.zeros(0)
    size = 1 << int(math.ceil(math.log2(n)))
    return np.fft.irfft(np.fft.rfft(a, size) * np.fft.rfft(b, size), size)[:n]
