"""Pure audio analysis of a library file: level, main transient, spectral centroid and brightness."""
from __future__ import annotations

import numpy as np

BRIGHT_HZ = 1500.0

def mono(audio: np.ndarray) -> np.ndarray:
    """Average of the channels of (n, channels) or (n,) audio, float32 (n,)."""
    a = np.asarray(audio, dtype=np.float32)
    return a if a.ndim == 1 else a.mean(axis=1, dtype=np.float32)


def dbfs(value: float) -> float:
    return float(20.0 * np.log10(max(float(value), 1e-10)))


def block_envelope(x: np.ndarray, hop: int) -> np.ndarray:
    """Peak of |x| in consecutive blocks of ``hop`` samples (last block zero-padded)."""
    n_blocks = -(-len(x) // hop)
    padded = np.zeros(n_blocks * hop, dtype=np.float32)
    padded[: len(x)] = np.abs(x)
    return padded.reshape(n_blocks, hop).max(axis=1)


def find_transient(x: np.ndarray, sample_rate: int, lookback_s: float = 0.05,
                   strong_db: float = 12.0) -> int:
    """Sample index where the main transient of mono ``x`` starts.

    The main transient is the 1 ms block, among those within ``strong_db`` of the loudest,
    that rises most above the mean level of the ``lookback_s`` before it; its start is the
    first sample after the last quiet block that reaches a quarter of the local peak.
    """
    if len(x) == 0:
        return 0
    hop = max(1, int(round(sample_rate * 0.001)))
    env = block_envelope(x, hop)
    peak = float(env.max())
    if peak <= 0.0:
        return 0
    floor = peak * 10 ** (-90 / 20)
    power = np.maximum(env, floor) ** 2
    look = max(1, int(round(lookback_s / 0.001)))
    csum = np.concatenate([[0.0], np.cumsum(power, dtype=np.float64)])
    idx = np.arange(len(env))
    lo = np.maximum(idx - look, 0)
    count = idx - lo
    before = np.where(count > 0, (csum[idx] - csum[lo]) / np.maximum(count, 1), floor ** 2)
    rise = 10 * np.log10(power) - 10 * np.log10(np.maximum(before, floor ** 2))
    strong = env >= peak * 10 ** (-strong_db / 20)
    block = int(np.argmax(np.where(strong, rise, -np.inf)))
    local_end = min(len(x), (block + 11) * hop)
    local_peak = float(np.abs(x[block * hop: local_end]).max())
    threshold = 0.25 * local_peak
    j = block
    while j > 0 and block - j < look and env[j - 1] >= threshold:
        j -= 1
    start = j * hop
    seg = np.abs(x[start: local_end])
    above = np.flatnonzero(seg >= threshold)
    return start + int(above[0]) if len(above) else block * hop


def spectral_features(x: np.ndarray, sample_rate: int, n_fft: int = 2048,
                      max_frames: int = 200) -> tuple[float, float]:
    """(spectral centroid in Hz, brightness = share of energy above 1.5 kHz) of mono ``x``."""
    if len(x) < 16:
        return 0.0, 0.0
    n_fft = min(n_fft, 1 << int(np.floor(np.log2(len(x)))))
    n_frames = len(x) // n_fft
    starts = np.linspace(0, len(x) - n_fft, num=min(max_frames, max(1, n_frames))).astype(int)
    frames = np.stack([x[s: s + n_fft] for s in starts]) * np.hanning(n_fft).astype(np.float32)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).sum(axis=0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    total = float(power.sum())
    if total <= 0.0:
        return 0.0, 0.0
    return float((freqs * power).sum() / total), float(power[freqs >= BRIGHT_HZ].sum() / total)


def analyse_audio(x: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Level, transient and spectral facts of mono audio (pure)."""
    peak = float(np.abs(x).max()) if len(x) else 0.0
    t = find_transient(x, sample_rate)
    window = x[t: t + int(0.3 * sample_rate)]
    rms = float(np.sqrt(np.mean(np.square(window, dtype=np.float64)))) if len(window) else 0.0
    centroid, brightness = spectral_features(x[t: t + int(2.0 * sample_rate)], sample_rate)
    return {"peak_dbfs": dbfs(peak), "rms_dbfs": dbfs(rms), "transient_s": t / sample_rate,
            "centroid_hz": centroid, "brightness": brightness}
