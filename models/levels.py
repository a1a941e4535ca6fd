"""Loudness (ITU-R BS.1770), true peak, and the level each sound is placed at.

Every sound, recorded or synthesized, is measured and set to the reference loudness of its UCS
category (:data:`CATEGORY_LUFS`, else its event kind's ``reference_lufs`` in :mod:`bridge.kinds`) at
intensity 0.5; the intensity then moves it over the kind's ``intensity_range_db`` (+-9 dB, ambience
+-4 dB), plus a seeded +-1.5 dB so repeats are not identical; a sound is never placed with its true
peak above :data:`CLIP_TRUE_PEAK_DBTP`.

Short one-shots are measured over at least one 400 ms gating block (zero-padded): the loudness of
the block that holds them, which is how BS.1770 momentary loudness sees a single hit. Audio is measured
in chunks through the K-weighting filters (:func:`models.dsp.k_weighting`) with the gating of
pyloudnorm's ``integrated_loudness`` (the same value; a test checks it against pyloudnorm), so memory
does not grow with a long mix's length.

True peak: 4x oversampled (scipy's polyphase interpolator, :func:`models.dsp.resample_poly`), in blocks
so long mixes stay in bounded memory.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np

#: Reference loudness (LUFS) at intensity 0.5 by UCS category, where it differs from the kind's.
CATEGORY_LUFS = {"GUNS": -18.0, "EXPLOSIONS": -18.0, "WEAPONS": -22.0, "FIGHT": -22.0, "DOORS": -24.0,
                 "CLOTH": -32.0, "PAPER": -32.0, "LEATHER": -32.0, "OBJECTS": -28.0,
                 "RAIN": -36.0, "WIND": -36.0, "WATER": -34.0}
#: Seeded level variation (dB, either way).
VARIATION_DB = 1.5
#: No placed sound, stem or mix has a true peak above this (dBTP).
CLIP_TRUE_PEAK_DBTP = -1.0
SILENCE_DB = -120.0
BLOCK_S = 0.4
OVERSAMPLE = 4
#: Audio is K-weighted this many samples at a time (see :func:`_streamed_lufs`).
CHUNK = 1 << 20


def loudness_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness of mono (n,) or (channels, n) audio; :data:`SILENCE_DB` for silence. Audio
    shorter than one 400 ms block is measured padded with silence to one block."""
    x = np.atleast_2d(np.asarray(audio))
    need = int(math.ceil(BLOCK_S * sample_rate)) + 1
    if x.shape[1] < need:
        x = np.pad(x, ((0, 0), (0, need - x.shape[1])))
    if not np.any(x):
        return SILENCE_DB
    return _streamed_lufs(x, sample_rate)


def _streamed_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """BS.1770 integrated loudness of (channels, n) audio, K-weighted chunk by chunk (the filter's tail
    carried over) into the sums of squares of 100 ms hops; 400 ms blocks with 75 % overlap and the absolute
    (-70 LUFS) and relative (-10 LU) gates as pyloudnorm applies them."""
    from models.dsp import k_weighting_fir

    fir = k_weighting_fir(int(sample_rate))
    hop = int(round(0.1 * sample_rate))
    channels, n = audio.shape
    hops = np.zeros((channels, n // hop + 1))
    for c in range(channels):
        stream = fir.stream()
        carry = np.zeros(0)
        k = 0
        for lo in range(0, n, CHUNK):
            y = stream.process(audio[c, lo:lo + CHUNK])
            sq = np.concatenate([carry, np.square(y)])
            whole = len(sq) // hop
            hops[c, k:k + whole] = sq[: whole * hop].reshape(whole, hop).sum(axis=1)
            k += whole
            carry = sq[whole * hop:]
        if len(carry):
            hops[c, k] = carry.sum()
    blocks = int(np.round((n / sample_rate - BLOCK_S) / 0.1)) + 1
    if blocks < 1:
        return SILENCE_DB
    z = np.zeros((channels, blocks))                                            # mean square per block
    for i in range(4):
        z += hops[:, i:i + blocks]
    power = z.sum(axis=0) / (BLOCK_S * sample_rate)
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10(power)
    keep = block_lufs >= -70.0
    if not np.any(keep):
        return SILENCE_DB
    relative = -0.691 + 10.0 * np.log10(power[keep].mean()) - 10.0
    keep &= block_lufs > relative
    if not np.any(keep):
        return SILENCE_DB
    return float(-0.691 + 10.0 * np.log10(power[keep].mean()))


#: scipy's 4x polyphase interpolator (``resample_poly``): an output sample depends on the input samples
#: within TP_REACH of it, and is at most TP_GAIN times their largest magnitude (its phases' largest L1
#: norm is 2.24). So only where the audio comes within 1/TP_GAIN (-7 dB) of its sample peak can the true
#: peak be higher, and only there is it oversampled.
TP_REACH = 11
TP_GAIN = 2.25


#: Loud samples closer than this are oversampled as one run (each run pays a filter design and a margin).
TP_GAP = 4096


def _runs(index: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """The [start, end) runs of sorted sample indices, split where they are more than ``gap`` apart."""
    if not index.size:
        return []
    cut = np.flatnonzero(np.diff(index) > gap)
    starts = np.concatenate([index[:1], index[cut + 1]])
    ends = np.concatenate([index[cut], index[-1:]]) + 1
    return list(zip(starts.tolist(), ends.tolist()))


def true_peak_db(audio: np.ndarray, block: int = 1 << 18) -> float:
    """True peak (dBTP) of mono or (channels, n) audio, 4x oversampled (the same value as oversampling
    all of it, computed only near the loud parts: see :data:`TP_GAIN`). Works ``block`` samples at a
    time, so a ten-minute stem needs a few MB beside it, not several copies of it."""
    from models.dsp import resample_poly, running_peak

    x = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    if not x.size:
        return SILENCE_DB
    n = x.shape[1]
    peak = max(float(np.max(np.abs(x[:, lo:lo + block]))) for lo in range(0, n, block))
    if peak <= 1e-6:
        return SILENCE_DB
    best = peak
    margin = 64
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        a, b = max(0, lo - TP_REACH), min(n, hi + TP_REACH)
        near = running_peak(np.max(np.abs(x[:, a:b]), axis=0), 2 * TP_REACH + 1)[lo - a:hi - a]
        for s0, s1 in _runs(np.flatnonzero(near * TP_GAIN > peak), TP_GAP):
            s0, s1 = lo + s0, lo + s1
            c0, c1 = max(0, s0 - margin), min(n, s1 + margin)
            up = resample_poly(x[:, c0:c1], OVERSAMPLE, 1)[:, OVERSAMPLE * (s0 - c0):OVERSAMPLE * (s1 - c0)]
            best = max(best, float(np.max(np.abs(up))))
    return 20.0 * math.log10(best)


def reference_lufs(kind: str, category: str | None) -> float:
    """The loudness a sound of this kind and UCS category is set to at intensity 0.5."""
    if category and category.upper() in CATEGORY_LUFS and kind != "ambience":
        return CATEGORY_LUFS[category.upper()]
    from bridge.kinds import kind as kind_row

    return kind_row(kind).reference_lufs


def variation_db(seed: int, event_id: int, time_s: float) -> float:
    text = f"{int(seed)}|level|{int(event_id)}|{round(float(time_s) * 1e6)}"
    u = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little") / 2 ** 32
    return VARIATION_DB * (2.0 * u - 1.0)


def target_lufs(kind: str, category: str | None, intensity: float, seed: int, event_id: int,
                time_s: float) -> float:
    from bridge.kinds import kind as kind_row

    i = min(1.0, max(0.0, float(intensity)))
    span = kind_row(kind).intensity_range_db
    return reference_lufs(kind, category) + span * (i - 0.5) + variation_db(seed, event_id, time_s)


def set_level(audio: np.ndarray, sample_rate: int, lufs: float) -> tuple[np.ndarray, float]:
    """``audio`` (mono) scaled to ``lufs`` but never above the true-peak ceiling; (audio, LUFS reached)."""
    measured = loudness_lufs(audio, sample_rate)
    if measured <= SILENCE_DB:
        return np.asarray(audio, dtype=np.float32), measured
    gain_db = lufs - measured
    peak = true_peak_db(audio)
    gain_db = min(gain_db, CLIP_TRUE_PEAK_DBTP - 0.5 - peak)    # the pan can only lower a channel
    out = (np.asarray(audio, dtype=np.float32) * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32)
    return out, measured + gain_db


def under_ceiling(audio: np.ndarray) -> np.ndarray:
    """``audio`` scaled down when its true peak is above the placement ceiling (else unchanged)."""
    peak = true_peak_db(audio)
    limit = CLIP_TRUE_PEAK_DBTP - 0.5
    if peak <= limit:
        return audio
    return (np.asarray(audio, dtype=np.float32) * np.float32(10.0 ** ((limit - peak) / 20.0))).astype(np.float32)
