"""Recorded sounds for events: the choice of one recording per event and how it is cut.

Shared by the two recording sources, the bundled kit (:mod:`models.kit_backend`) and the
editor's own library (:mod:`models.library_backend`); each gives the files of a UCS category.

Choice, for an event whose UCS target is ``{"cat_id", "category", "subcategory"}`` (the event's
``ucs``, else the kind's default, see :func:`target_ucs`):

1. Candidates: recordings of the target's Category (for AMBIENCE, also its SubCategory, else a place
   of the same outdoor family: a forest is no room tone, but a city bed serves a street), less those
   whose name or description names another material than the event's (where that leaves none, an
   impact's candidates are the recordings of an impact on its material, when there are any). None:
   :class:`models.sound.NoMatch` with the reason; the engine asks the next source.
2. Score: same CatID 1.5, same SubCategory 0.5, the event's material and label words found in the
   recording's name or description up to 0.6, intensity fit 0.5 (louder, brighter recordings for
   stronger events), query match 2.
3. Draw among the five best, weighted by score, seeded by (seed, CatID, event id, time); the
   recordings chosen for the neighbouring events of the same object (same CatID and material) are
   left out, so one object never repeats a file twice in a row.
4. Cut so the recording's own transient sits exactly ``PREROLL_S`` after the clip start
   (``snap_offset_s``, sample accurate at the output rate), with a small seeded pitch variation
   (resampling, up to +-60 cents). Ambience is looped with equal-power crossfades.
"""
from __future__ import annotations

import bisect
import functools
import hashlib
import logging
import math
import os
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from bridge.errors import InputError
from bridge.event import Event
from models.library import LibraryFile, find_transient, mono, read_audio
from models.sound import NoMatch, Sound

log = logging.getLogger("foley.recorded")

#: Where the transient sits in every one-shot clip (seconds from the clip start).
PREROLL_S = 0.010
#: Longest one-shot per kind (seconds after the transient).
MAX_AFTER_S = {"impact": 1.5, "footstep": 0.6, "whoosh": 2.0}
#: Source read before the indexed transient, so the transient is found again after resampling.
LEAD_S = 0.25
#: Candidates the seeded draw chooses among (best scores first).
TOP_K = 5
#: Largest seeded pitch change (cents) for one-shots.
PITCH_CENTS = 60.0
CACHE_CLIPS = 128
#: Categories whose SubCategory is a place: a recording of another place does not fit, except one of
#: the same family of outdoor places (a city bed for a street, a forest bed for a park).
PLACE_CATEGORIES = frozenset(["AMBIENCE"])
PLACE_FAMILIES: tuple[frozenset[str], ...] = (
    frozenset(["URBAN", "TOWN", "TRAFFIC", "CONSTRUCTION", "INDUSTRIAL", "MARKET", "SUBURBAN", "PUBLIC PLACE",
               "TRANSPORTATION"]),
    frozenset(["FOREST", "PARK", "RURAL", "GRASSLAND", "FARM", "ALPINE", "SWAMP", "TROPICAL", "LAKESIDE",
               "BIRDSONG", "INSECT"]),
)


def same_place(wanted: str, recorded: str) -> int:
    """2 for the same place, 1 for a place of the same outdoor family, 0 otherwise."""
    if wanted == recorded:
        return 2
    return int(any(wanted in fam and recorded in fam for fam in PLACE_FAMILIES))

#: Where an event has no recognised UCS: impacts of a known material (any word of the material table,
#: :data:`models.ucs.MATERIALS`) get that material's impact CatID and indoor ambiences room tone;
#: otherwise the kind's generic CatID (bridge.kinds).
INDOOR_AMBIENCE_CATID = "AMBRoom"


def target_ucs(event: Event) -> dict[str, str]:
    """The UCS ``{"cat_id", "category", "subcategory"}`` a sound for ``event`` should have."""
    from bridge.kinds import kind
    from models import ucs

    if event.ucs and event.ucs.get("cat_id") and event.ucs.get("category"):
        return {"cat_id": str(event.ucs["cat_id"]), "category": str(event.ucs["category"]).upper(),
                "subcategory": str(event.ucs.get("subcategory") or "MISC").upper()}
    cat_id = kind(event.kind).cat_id
    if event.kind == "impact":
        material = ucs.material(event.material or event.extra.get("material"))
        cat_id = material.impact if material is not None else cat_id
    elif event.kind == "ambience":
        scene = event.scene or {}
        if scene.get("room") in ("small", "hall") or scene.get("indoor") is True:
            cat_id = INDOOR_AMBIENCE_CATID
    return dict(ucs.ref(cat_id))


def _stand_in(event: Event, target: dict[str, str]) -> dict[str, str] | None:
    """The kind's stand-in UCS when the event is known only by its kind's generic CatID, else None."""
    from bridge.kinds import kind
    from models import ucs

    row = kind(event.kind)
    if row.stand_in is None or target["cat_id"] != row.cat_id:
        return None
    return dict(ucs.ref(row.stand_in))


PITCH_STEP_HZ = 300


def pitch_rate(sample_rate: int, cents: float) -> int:
    """The rate a one-shot is read at so that, played at ``sample_rate``, its pitch moves by ``cents``.
    A multiple of 300 Hz (steps of about 11 cents at 48 kHz), so the resampling ratio stays a small
    fraction for the usual source rates (44.1, 48, 96 kHz) and the kernel small."""
    return int(round(sample_rate / 2.0 ** (cents / 1200.0) / PITCH_STEP_HZ)) * PITCH_STEP_HZ


def object_key(event: Event) -> str:
    """What counts as one object for "never the same file twice in a row": its CatID and material."""
    return f"{target_ucs(event)['cat_id']}|{event.material or ''}"


def _words(text: str) -> set[str]:
    from models import ucs

    return set(ucs.tokens(text))


@functools.lru_cache(maxsize=1 << 16)
def _named_materials(text: str) -> frozenset[str]:
    """The materials a recording's words name ("metal pot/pan hit": metal; "wood and metal crash": both),
    not things usually made of one ("body punch": none). Kept per text: every event of a material asks it
    of each file of its category."""
    from models import ucs

    return frozenset(ucs.MATERIAL_WORDS[w][0].name for w in ucs.tokens(text)
                     if w in ucs.MATERIAL_WORDS and ucs.MATERIAL_WORDS[w][1] == 0)


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


def score_candidates(files: list[LibraryFile], target: dict[str, str], words: set[str], intensity: float,
                     query_scores: dict[str, float]) -> np.ndarray:
    """The score of each candidate for one event (see the module docs)."""
    i = min(1.0, max(0.0, float(intensity)))
    level = percentile_ranks(np.array([f.rms_dbfs for f in files]))
    bright = percentile_ranks(np.array([f.brightness for f in files]))
    same_id = np.array([f.cat_id == target["cat_id"] for f in files], dtype=np.float64)
    same_sub = np.array([f.subcategory.upper() == target["subcategory"] for f in files], dtype=np.float64)
    if words:
        found = np.array([len(words & _words(f"{f.fx_name} {f.description} {f.subcategory}")) / len(words)
                          for f in files])
    else:
        found = np.zeros(len(files))
    query = np.array([query_scores.get(f.path, 0.0) for f in files])
    return (1.5 * same_id + 0.5 * same_sub + 0.6 * found
            + 0.5 * (1.0 - 0.5 * (np.abs(level - i) + np.abs(bright - i))) + 2.0 * query)


def choose(paths: list[str], scores: np.ndarray, exclude: set[str], rng: np.random.Generator) -> int:
    """Index of the file drawn among the TOP_K best not in ``exclude`` (weighted by score)."""
    masked = np.array(scores, dtype=np.float64)
    banned = [i for i, p in enumerate(paths) if p in exclude]
    if banned and len(banned) < len(masked):
        masked[banned] = -np.inf
    k = min(TOP_K, int(np.isfinite(masked).sum()))
    top = np.lexsort((np.arange(len(masked)), -masked))[:k]    # best first, path order on ties
    s = masked[top]
    weights = np.exp((s - s.max()) / 0.15)
    return int(top[int(rng.choice(k, p=weights / weights.sum()))])


def resample(x: np.ndarray, orig: int, new: int) -> np.ndarray:
    """Mono float32 audio from ``orig`` to ``new`` Hz: a polyphase resampler (scipy's: a linear-phase
    Kaiser-windowed FIR whose delay it removes, so a transient keeps its time; see :mod:`models.dsp`)."""
    if orig == new or len(x) == 0:
        return x.astype(np.float32, copy=False)
    from models.dsp import resample_poly

    g = math.gcd(int(orig), int(new))
    return resample_poly(np.asarray(x, dtype=np.float32), int(new) // g, int(orig) // g).astype(np.float32)


def fade(x: np.ndarray, fade_in: int, fade_out: int) -> np.ndarray:
    """Raised-cosine fades at both ends (on a copy)."""
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
    t = (np.arange(xf) + 0.5) / xf
    fin, fout = np.sin(0.5 * np.pi * t).astype(np.float32), np.cos(0.5 * np.pi * t).astype(np.float32)
    y = y.astype(np.float32, copy=False)
    segment = np.concatenate([y[-xf:] * fout + y[:xf] * fin, y[xf: len(y) - xf]])
    repeats = -(-(n - len(y)) // len(segment))
    return np.concatenate([y[: len(y) - xf], *([segment] * repeats), y[len(y) - xf:]])[:n]


def peak_on_speed(audio: np.ndarray, sample_rate: int, event: Event) -> tuple[np.ndarray, float]:
    """A recorded whoosh placed so its loudest 20 ms land where the motion is fastest (the peak of
    ``extra["speed_profile"]`` over the event's duration; 45 % in when there is no profile). Returns
    the audio (zero-padded in front when needed) and the snap offset: where the motion's onset falls."""
    win = max(1, int(0.02 * sample_rate))
    power = np.convolve(np.square(audio, dtype=np.float64), np.ones(win) / win, mode="same")
    loudest = int(np.argmax(power)) if len(power) else 0
    profile = event.extra.get("speed_profile")
    try:
        values = np.asarray(profile, dtype=np.float64).ravel() if profile is not None else np.zeros(0)
    except (TypeError, ValueError):
        values = np.zeros(0)
    fastest = (float(np.argmax(values)) / max(1, len(values) - 1) if len(values) > 1 and np.all(np.isfinite(values))
               else 0.45)
    snap = loudest - int(round(fastest * max(0.0, float(event.duration_s)) * sample_rate))
    if snap < 0:
        audio = np.concatenate([np.zeros(-snap, dtype=np.float32), audio])
        snap = 0
    return audio, snap / sample_rate


def set_peak(x: np.ndarray, peak: float) -> np.ndarray:
    m = float(np.abs(x).max()) if len(x) else 0.0
    return (x * (peak / m)).astype(np.float32) if m > 0 else x.astype(np.float32)


def _seed_words(*parts: Any) -> list[int]:
    text = "|".join(str(p) for p in parts)
    return [int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1]


class Choices:
    """Which recording each object got when, for one job: repeats are avoided in time order."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.chosen: dict[str, list[tuple[float, str]]] = {}
        self.memo: dict[tuple[Any, ...], LibraryFile] = {}
        self.previous: dict[str, tuple[str, int]] = {}   # object -> (file, reading rate) last rendered
        self.rates: dict[tuple[Any, ...], int] = {}      # event -> its reading rate (a re-render repeats it)

    def neighbours(self, obj: str, time_s: float) -> set[str]:
        """The files of the nearest earlier and later events of the same object."""
        chosen = self.chosen.get(obj, [])
        i = bisect.bisect_left(chosen, (time_s, ""))
        out = set()
        if i > 0:
            out.add(chosen[i - 1][1])
        if i < len(chosen):
            out.add(chosen[i][1])
        return out


class RecordingBackend:
    """A sound source of recordings; subclasses give :meth:`category_files`."""

    name = "recorded"
    #: Choices avoid repeats in time order, so events render one after another.
    thread_safe = False

    def __init__(self, device: str = "cpu", query: str | None = None) -> None:
        self.device = device
        self.query = (query or "").strip() or None
        self._query_scores: dict[str, float] = {}
        self._lock = threading.RLock()
        self._choices = Choices()
        self._cache: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()

    def new_choices(self) -> "Choices":
        """Fresh choice state for one job (a backend is shared by the jobs of an engine)."""
        return Choices()

    # -- what subclasses provide

    def category_files(self, category: str) -> list[LibraryFile]:
        raise NotImplementedError

    def describe_source(self, f: LibraryFile) -> str:
        return f.path

    # -- choice

    def candidates(self, target: dict[str, str], event: Event) -> list[LibraryFile]:
        files = self.category_files(target["category"])
        if target["category"] in PLACE_CATEGORIES and target["subcategory"] != "MISC":
            closeness = [same_place(target["subcategory"], f.subcategory.upper()) for f in files]
            best = max(closeness, default=0)
            files = [f for f, c in zip(files, closeness) if best and c == best]
        return files

    def select(self, event: Event, seed: int, choices: "Choices | None" = None) -> LibraryFile:
        """The recording for an event; :class:`NoMatch` when this source has none of its category."""
        target = target_ucs(event)
        files = self.candidates(target, event)
        stand_in = _stand_in(event, target)
        if not files and stand_in is not None:
            files = self.candidates(stand_in, event)
            target = stand_in if files else target
        files, target = self._of_its_material(event, files, target)
        if not files:
            where = target["category"] + (f"/{target['subcategory']}" if target["category"] in PLACE_CATEGORIES
                                          and target["subcategory"] != "MISC" else "")
            raise NoMatch(f"{self.name} has no recording in UCS {where} ({target['cat_id']})")
        state = choices if choices is not None else self._choices
        obj = object_key(event)
        key = (obj, event.id, round(event.time_s, 6), seed)
        with state.lock:
            if key in state.memo:
                return state.memo[key]
            words = _words(" ".join(w for w in (event.material, event.label) if w))
            scores = score_candidates(files, target, words, event.intensity, self._query_scores)
            rng = np.random.default_rng(_seed_words(seed, target["cat_id"], event.id, round(event.time_s * 1000)))
            exclude = state.neighbours(obj, event.time_s)
            picked = files[choose([f.path for f in files], scores, exclude, rng)]
            state.memo[key] = picked
            bisect.insort(state.chosen.setdefault(obj, []), (event.time_s, picked.path))
            return picked

    def _of_its_material(self, event: Event, files: list[LibraryFile],
                         target: dict[str, str]) -> tuple[list[LibraryFile], dict[str, str]]:
        """Leave out recordings whose name or description names another material than the event's (a
        knife on a wooden board is no "metal pot/pan hit", though both are kitchen sounds; a thing the
        words mention, as a "body punch", names no material); where that leaves none, for an impact the
        recordings of an impact on its material (its CatID), if this source has any; else the category's
        as they were."""
        from models import ucs

        wanted = ucs.material(event.material)
        if wanted is None or not files:
            return files, target
        named = [_named_materials(f"{f.fx_name} {f.description}") for f in files]
        fitting = [f for f, m in zip(files, named) if not m or wanted.name in m]
        if fitting:
            return fitting, target
        instead = dict(ucs.ref(wanted.impact))
        others = ([f for f in self.candidates(instead, event) if f.cat_id == instead["cat_id"]]
                  if event.kind == "impact" else [])
        return (others, instead) if others else (files, target)

    # -- rendering

    def render(self, event: Event, sample_rate: int, seed: int, choices: "Choices | None" = None) -> Sound:
        picked = self.select(event, seed, choices)
        rng = np.random.default_rng(_seed_words(seed, "vary", event.id, round(event.time_s * 1e6)))
        try:
            if event.kind == "ambience":
                audio, snap = self._ambience(picked, event, sample_rate, rng)
            else:
                rate = pitch_rate(sample_rate, float(rng.uniform(-PITCH_CENTS, PITCH_CENTS)))
                state = choices if choices is not None else self._choices
                with state.lock:  # one file for an object twice in a row (its only one): another pitch
                    obj, key = object_key(event), (event.id, round(event.time_s, 6), seed)
                    if key in state.rates:
                        rate = state.rates[key]
                    else:
                        if state.previous.get(obj) == (picked.path, rate):
                            rate += PITCH_STEP_HZ if rate <= sample_rate else -PITCH_STEP_HZ
                        state.rates[key] = rate
                        state.previous[obj] = (picked.path, rate)
                audio, snap = self._one_shot(picked, event.kind, sample_rate, rate)
                if event.kind == "whoosh":
                    audio, snap = peak_on_speed(audio, sample_rate, event)
        except InputError as exc:
            log.warning("%s file %s cannot be used: %s", self.name, picked.path, exc)
            raise NoMatch(f"{self.name} file {os.path.basename(picked.path)!r} is unreadable") from None
        audio = set_peak(audio, 0.5)
        wanted = target_ucs(event)
        stood_in = None
        if picked.category.upper() != wanted["category"]:
            stood_in = (f"{self.name} has no recording in UCS {wanted['category']} ({wanted['cat_id']}); "
                        f"a {picked.category}/{picked.subcategory} recording stands in for an unrecognised "
                        f"{event.kind}")
        label = picked.fx_name or os.path.splitext(os.path.basename(picked.path))[0]
        desc = f"{event.kind}: {label} [{picked.category}/{picked.subcategory}] from {self.name}"
        if self.query:
            desc += f"; query {self.query!r} {'matched' if picked.path in self._query_scores else 'not matched'}"
        return Sound(audio=audio, sample_rate=sample_rate, snap_offset_s=snap, backend=self.name,
                     description=desc, source=self.describe_source(picked), fallback=stood_in,
                     ucs={"cat_id": picked.cat_id, "category": picked.category, "subcategory": picked.subcategory})

    def _load(self, f: LibraryFile, start_s: float, length_s: float, rate: int) -> np.ndarray:
        """Mono audio of ``f`` resampled to ``rate``, cached."""
        key = (f.path, round(start_s, 6), round(length_s, 6), rate)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        data, sr = read_audio(f.path, start_s, length_s)
        y = resample(mono(data), sr, rate)
        with self._lock:
            self._cache[key] = y
            while len(self._cache) > CACHE_CLIPS:
                self._cache.popitem(last=False)
        return y

    def _one_shot(self, f: LibraryFile, kind: str, sample_rate: int, rate: int) -> tuple[np.ndarray, float]:
        """The cut one-shot, read at ``rate`` and played at ``sample_rate`` (see :func:`pitch_rate`)."""
        after_s = MAX_AFTER_S.get(kind, 1.5)
        start = max(0.0, f.transient_s - LEAD_S)
        y = self._load(f, start, (f.transient_s - start) + after_s + 0.05, rate)
        if len(y) == 0:
            raise InputError(f"{f.path!r} has no audio at its transient")
        transient = find_transient(y, sample_rate)
        preroll = int(round(PREROLL_S * sample_rate))
        clip = cut_at_transient(y, transient, preroll, int(round(after_s * sample_rate)),
                                max_fade=int(0.1 * sample_rate))
        return clip, preroll / sample_rate

    def _ambience(self, f: LibraryFile, event: Event, sample_rate: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, float]:
        n = max(1, int(round(max(event.duration_s, 0.5) * sample_rate)))
        need_s = n / sample_rate + 1.0
        spare = max(0.0, min(f.duration_s, 60.0) - need_s)
        start = float(rng.uniform(0.0, spare)) if spare > 0 else 0.0
        y = self._load(f, start, min(need_s, 60.0), sample_rate)
        if len(y) == 0:
            raise InputError(f"{f.path!r} has no audio")
        xf = int(min(0.5, 0.25 * len(y) / sample_rate) * sample_rate)
        looped = loop_to_length(y, n, xf)
        edge = int(min(0.25, 0.1 * n / sample_rate) * sample_rate)
        return fade(looped, edge, edge), 0.0
