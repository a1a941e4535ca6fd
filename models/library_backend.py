"""The "library" sound backend: one clip from the editor's own library per event.

For each event it picks, among the indexed files whose category fits the event kind (and the
text query when one is given), one whose level and brightness fit the event's intensity; never
the file used by the neighbouring event of the same kind; deterministic under the seed. The
clip is cut so that its own main transient sits exactly ``PREROLL_S`` after the start
(``snap_offset_s``, sample accurate at the output rate), mono-summed, resampled, faded, and its
peak set from the intensity. Ambience is looped with crossfades to the event's duration. When
nothing fits, the event falls back to the synthesizer and says so in its description.
"""
from __future__ import annotations

import bisect
import logging
import os
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from bridge.errors import BackendError, InputError
from bridge.event import Event
from bridge.options import Options
from models import ucs
from models.library import LibraryFile, LibraryIndex, find_transient, mono, read_audio
from models.sound import Sound

log = logging.getLogger("foley.library_backend")

#: Where the transient sits in every one-shot clip (seconds from the clip start).
PREROLL_S = 0.010
#: Longest one-shot per kind (seconds after the transient).
MAX_AFTER_S = {"impact": 1.5, "footstep": 0.6, "whoosh": 2.0}
#: Source read before the indexed transient, so the transient is found again after resampling.
LEAD_S = 0.25
#: Candidates the seeded draw chooses among (best scores first).
TOP_K = 5
CACHE_CLIPS = 128


def peak_for_intensity(intensity: float) -> float:
    """Linear peak for an intensity: -30 dBFS at 0 up to -3 dBFS at 1 (as the synthesizer)."""
    i = min(1.0, max(0.0, float(intensity)))
    return float(10 ** ((-30.0 + 27.0 * i) / 20.0))


def percentile_ranks(values: np.ndarray) -> np.ndarray:
    """0..1 rank of each value among all (ties share the mean rank); 0.5 for a single value."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) <= 1:
        return np.full(len(v), 0.5)
    order = v.argsort(kind="stable")
    inverse = np.empty(len(v), dtype=np.int64)
    inverse[order] = np.arange(len(v))
    sorted_v = v[order]
    first = np.concatenate([[True], sorted_v[1:] != sorted_v[:-1]])
    group = np.cumsum(first)[inverse] - 1                      # tie group of each value
    bounds = np.concatenate([np.flatnonzero(first), [len(v)]])  # group start positions, then n
    mean_rank = 0.5 * (bounds[group] + bounds[group + 1] - 1)
    return mean_rank / (len(v) - 1)


def candidate_features(files: list[LibraryFile], kind: str,
                       query_scores: dict[str, float] | None) -> np.ndarray:
    """(4, n): kind fit, level rank, brightness rank, query score of each candidate."""
    return np.stack([
        np.array([f.fits.get(kind, 0.0) for f in files]),
        percentile_ranks(np.array([f.rms_dbfs for f in files])),
        percentile_ranks(np.array([f.brightness for f in files])),
        np.array([(query_scores or {}).get(f.path, 0.0) for f in files]),
    ])


def score_candidates(features: np.ndarray, intensity: float) -> np.ndarray:
    """Kind fit + intensity fit (louder, brighter clips for stronger events) + 2 x query match."""
    fit, level, bright, query = features
    i = min(1.0, max(0.0, float(intensity)))
    return fit + 0.5 * (1.0 - 0.5 * (np.abs(level - i) + np.abs(bright - i))) + 2.0 * query


def choose(positions: dict[str, int], scores: np.ndarray, exclude: set[str], rng: np.random.Generator) -> int:
    """Index of the file drawn among the TOP_K best not in ``exclude`` (weighted by score);
    ``positions`` maps each candidate path to its index."""
    masked = np.array(scores, dtype=np.float64)
    banned = [positions[p] for p in exclude if p in positions]
    if banned and len(banned) < len(masked):
        masked[banned] = -np.inf
    k = min(TOP_K, int(np.isfinite(masked).sum()))
    top = np.lexsort((np.arange(len(masked)), -masked))[:k]    # best first, path order on ties
    s = masked[top]
    weights = np.exp((s - s.max()) / 0.15)
    return int(top[int(rng.choice(k, p=weights / weights.sum()))])


def resample(x: np.ndarray, orig: int, new: int) -> np.ndarray:
    """torchaudio resampling of mono float32 audio."""
    if orig == new or len(x) == 0:
        return x.astype(np.float32, copy=False)
    import torch
    import torchaudio.functional as AF

    return AF.resample(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), orig, new).numpy()


def fade(x: np.ndarray, fade_in: int, fade_out: int) -> np.ndarray:
    """Raised-cosine fades at both ends (in place on a copy)."""
    y = x.astype(np.float32, copy=True)
    if fade_in > 0:
        n = min(fade_in, len(y))
        y[:n] *= (0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)).astype(np.float32)
    if fade_out > 0:
        n = min(fade_out, len(y))
        y[len(y) - n:] *= (0.5 + 0.5 * np.cos(np.pi * (np.arange(n) + 1) / n)).astype(np.float32)
    return y


def cut_at_transient(y: np.ndarray, transient: int, preroll: int, after: int, max_fade: int) -> np.ndarray:
    """``preroll`` samples before ``transient`` (zero-padded) to at most ``after`` after it,
    trailing quiet (60 dB under the peak) trimmed, a short fade-in inside the pre-roll and a
    fade-out of at most ``max_fade`` samples at the tail. The transient lands exactly at index ``preroll``."""
    begin = transient - preroll
    pad = max(0, -begin)
    body = y[max(0, begin): transient + after]
    clip = np.concatenate([np.zeros(pad, dtype=np.float32), body]) if pad else body
    peak = float(np.abs(clip).max()) if len(clip) else 0.0
    if peak > 0:
        loud = np.flatnonzero(np.abs(clip) >= peak * 1e-3)
        end = max(int(loud[-1]) + 1 + preroll, preroll + 1)
        clip = clip[: min(len(clip), end)]
    tail = min(max(1, int(0.25 * (len(clip) - preroll))), max_fade)
    return fade(clip, preroll // 2, max(tail, 0))


def loop_to_length(y: np.ndarray, n: int, crossfade: int) -> np.ndarray:
    """Repeat ``y`` with equal-power crossfades of ``crossfade`` samples until ``n`` samples."""
    if len(y) == 0:
        return np.zeros(n, dtype=np.float32)
    if len(y) >= n:
        return y[:n].astype(np.float32, copy=True)
    xf = max(1, min(crossfade, len(y) // 3))
    t = np.arange(xf) / xf
    fin, fout = np.sin(0.5 * np.pi * t).astype(np.float32), np.cos(0.5 * np.pi * t).astype(np.float32)
    y = y.astype(np.float32, copy=False)
    segment = np.concatenate([y[-xf:] * fout + y[:xf] * fin, y[xf: len(y) - xf]])
    repeats = -(-(n - len(y)) // len(segment))
    return np.concatenate([y[: len(y) - xf], *([segment] * repeats), y[len(y) - xf:]])[:n]


def set_peak(x: np.ndarray, peak: float) -> np.ndarray:
    m = float(np.abs(x).max()) if len(x) else 0.0
    return (x * (peak / m)).astype(np.float32) if m > 0 else x.astype(np.float32)


class LibraryBackend:
    """Sound backend "library"; see the module docstring."""

    name = "library"

    def __init__(self, options: Options, device: str = "cpu", index: LibraryIndex | None = None):
        self.options = options
        self.device = device
        self.index = index if index is not None else LibraryIndex()
        self.roots = [os.path.realpath(os.path.expanduser(d)) for d in (options.library or [])]
        known = {r["path"] for r in self.index.list_roots()}
        missing = [r for r in self.roots if r not in known]
        if missing:
            log.info("indexing library folder(s) %s", ", ".join(missing))
            try:
                self.index.add(missing)
            except InputError as exc:
                raise BackendError(f"library backend: {exc}") from None
        if not self.roots:
            self.roots = sorted(known)
        if not self.roots:
            # Not an error here: an engine may load the backend before any job names a library.
            log.info("the sound library is empty (index %s): events will be synthesized", self.index.db_path)
        self.query = (options.query or "").strip() or None
        self._query_scores: dict[str, float] = {}
        if self.query:
            hits = self.index.search(self.query, limit=1_000_000)
            self._query_scores = {f.path: f.score for f in hits}
            log.info("library query %r matches %d file(s)", self.query, len(hits))
        self._lock = threading.RLock()
        self._candidates: dict[str, list[LibraryFile]] = {}
        self._features: dict[str, np.ndarray] = {}
        self._positions: dict[str, dict[str, int]] = {}
        self._chosen: dict[str, list[tuple[float, str]]] = {}
        self._memo: dict[tuple[Any, ...], str] = {}
        self._cache: OrderedDict[tuple[Any, ...], tuple[np.ndarray, int]] = OrderedDict()
        self._synth: Any = None

    # ------------------------------------------------------------------ selection

    def candidates(self, kind: str) -> list[LibraryFile]:
        with self._lock:
            if kind not in self._candidates:
                files = self.index.files(kind=kind, roots=self.roots)
                self._candidates[kind] = files
                self._features[kind] = candidate_features(files, kind, self._query_scores)
                self._positions[kind] = {f.path: i for i, f in enumerate(files)}
            return self._candidates[kind]

    def _neighbours(self, kind: str, time_s: float) -> set[str]:
        chosen = self._chosen.get(kind, [])
        i = bisect.bisect_left(chosen, (time_s, ""))
        out = set()
        if i > 0:
            out.add(chosen[i - 1][1])
        if i < len(chosen):
            out.add(chosen[i][1])
        return out

    def select(self, event: Event, seed: int) -> LibraryFile | None:
        """The library file for an event (None when no file fits the kind)."""
        files = self.candidates(event.kind)
        if not files:
            return None
        key = (event.kind, event.id, round(event.time_s, 6), seed)
        with self._lock:
            if key in self._memo:
                return files[self._positions[event.kind][self._memo[key]]]
            scores = score_candidates(self._features[event.kind], event.intensity)
            kind_index = list(ucs.KIND_FITS).index(event.kind) if event.kind in ucs.KIND_FITS else 0
            rng = np.random.default_rng([abs(int(seed)), kind_index, abs(int(event.id)),
                                         abs(int(round(event.time_s * 1000)))])
            exclude = self._neighbours(event.kind, event.time_s)
            picked = files[choose(self._positions[event.kind], scores, exclude, rng)]
            self._memo[key] = picked.path
            bisect.insort(self._chosen.setdefault(event.kind, []), (event.time_s, picked.path))
            return picked

    # ------------------------------------------------------------------ rendering

    def render(self, event: Event, sample_rate: int, seed: int) -> Sound:
        if not self.roots:
            if self._synth is None:
                log.warning("the sound library is empty (index %s): every event is synthesized; add folders "
                            "with `foley library add DIR` or pass --library DIR", self.index.db_path)
            return self._fallback(event, sample_rate, seed, "no library match: the sound library is empty "
                                  "(add folders with `foley library add DIR` or pass --library DIR)")
        picked = self.select(event, seed)
        if picked is None:
            what = f"{event.kind}" + (f" matching {self.query!r}" if self.query else "")
            return self._fallback(event, sample_rate, seed, f"no library match for {what}")
        try:
            if event.kind == "ambience":
                audio, snap = self._ambience(picked, event, sample_rate, seed)
            else:
                audio, snap = self._one_shot(picked, event.kind, sample_rate)
        except InputError as exc:
            log.warning("library file %s cannot be used: %s", picked.path, exc)
            return self._fallback(event, sample_rate, seed,
                                  f"no library match for {event.kind} (file {picked.path!r} unreadable)")
        audio = set_peak(audio, peak_for_intensity(event.intensity))
        label = picked.fx_name or os.path.splitext(os.path.basename(picked.path))[0]
        desc = f"{event.kind}: {label} [{picked.category}/{picked.subcategory}] from library"
        if self.query:
            matched = picked.path in self._query_scores
            desc += f"; query {self.query!r} {'matched' if matched else 'not matched'}"
        return Sound(audio=audio, sample_rate=sample_rate, snap_offset_s=snap, backend="library",
                     description=desc, source=picked.path)

    def _load(self, f: LibraryFile, start_s: float, length_s: float, sample_rate: int) -> np.ndarray:
        key = (f.path, round(start_s, 6), round(length_s, 6), sample_rate)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key][0]
        data, sr = read_audio(f.path, start_s, length_s)
        y = resample(mono(data), sr, sample_rate)
        with self._lock:
            self._cache[key] = (y, sr)
            while len(self._cache) > CACHE_CLIPS:
                self._cache.popitem(last=False)
        return y

    def _one_shot(self, f: LibraryFile, kind: str, sample_rate: int) -> tuple[np.ndarray, float]:
        after_s = MAX_AFTER_S.get(kind, 1.5)
        start = max(0.0, f.transient_s - LEAD_S)
        y = self._load(f, start, (f.transient_s - start) + after_s + 0.05, sample_rate)
        if len(y) == 0:
            raise InputError(f"{f.path!r} has no audio at its transient")
        transient = find_transient(y, sample_rate)
        preroll = int(round(PREROLL_S * sample_rate))
        clip = cut_at_transient(y, transient, preroll, int(round(after_s * sample_rate)),
                                max_fade=int(0.1 * sample_rate))
        return clip, preroll / sample_rate

    def _ambience(self, f: LibraryFile, event: Event, sample_rate: int, seed: int) -> tuple[np.ndarray, float]:
        n = max(1, int(round(max(event.duration_s, 0.5) * sample_rate)))
        need_s = n / sample_rate + 1.0
        rng = np.random.default_rng([abs(int(seed)), abs(int(event.id)), 7])
        spare = max(0.0, min(f.duration_s, 60.0) - need_s)
        start = float(rng.uniform(0.0, spare)) if spare > 0 else 0.0
        y = self._load(f, start, min(need_s, 60.0), sample_rate)
        if len(y) == 0:
            raise InputError(f"{f.path!r} has no audio")
        xf = int(min(0.5, 0.25 * len(y) / sample_rate) * sample_rate)
        looped = loop_to_length(y, n, xf)
        edge = int(min(0.25, 0.1 * n / sample_rate) * sample_rate)
        return fade(looped, edge, edge), 0.0

    def _fallback(self, event: Event, sample_rate: int, seed: int, why: str) -> Sound:
        with self._lock:
            if self._synth is None:
                try:
                    from models.synth import SynthBackend
                except ImportError as exc:
                    raise BackendError(f"{why} and the synthesizer fallback cannot be loaded: {exc}") from None
                self._synth = SynthBackend(self.options, self.device)
        sound = self._synth.render(event, sample_rate, seed)
        sound.backend = "synth"
        sound.source = None
        sound.description = f"fallback: {why}; {sound.description}"
        log.info("event %s (%s at %.3f s): %s; synthesized", event.id, event.kind, event.time_s, why)
        return sound
