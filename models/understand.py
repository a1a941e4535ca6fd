"""Understanding: what each detected event sounds like, from the picture and the editor's prompt.

For one analysed span: a few frames spread over it are taken and classified
(:class:`models.recognize.Recognizer`) while the detector works (:func:`look`). In a job the frames come
from the span's colour frame store (:func:`frame_store`), which the detector's own decoding pass fills, so
the video is decoded once; without a store they are decoded (:func:`models.stills.rgb_frames`). Then events
are grouped per shot into objects (events of one kind close together on screen, :func:`cluster_events`) and
each object's region is cropped from the frame nearest its events' time and classified. Each object gets one
UCS CatID, label and material (the same hammer on the same plate sounds the same every time); each shot gets
a scene (:mod:`models.scene`), which every event of the shot carries as a room hint and the ambience takes
its CatID from. A prompt (:mod:`models.prompt`) then steers the events it fits. Weak picture evidence gives
the kind's generic CatID and a low ``evidence["confidence"]``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from bridge.event import Event
from bridge.kinds import kind
from models import scene as scenes
from models import ucs
from models.prompt import MIN_SCORE, PromptHints
from models.recognize import OBJECT_CUES, best_cue, crop_around, no_probs, top_classes

log = logging.getLogger("foley.understand")

#: Object evidence weaker than this (probability mass of one CatID's classes) falls back to the generic CatID.
MIN_OBJECT_MASS = 0.08
#: Cues whose events say by themselves what is heard (``Event.extra["cue"]``): the CatID, label and material
#: they take whatever object is seen near them (a prompt may still say otherwise: "fireworks"). The light
#: changing at once is its switch's click; a burst of fire or of a firework's shell, its bang.
CUE_SOUNDS: dict[str, tuple[str, str, str | None]] = {"light": ("MECHSwtch", "light switch", "plastic"),
                                                      "burst": ("EXPLReal", "burst", None)}
#: Events of one kind closer than this on screen (0..1 of the frame) within a shot are one object.
CLUSTER_RADIUS = 0.2
FRAME_WIDTH = 448
CROP_SIZE = 0.6
#: The colour frame store keeps one frame every this many seconds (so a crop's frame is at most half of it
#: from its events' time), as JPEG of this quality, at most STORE_MAX_BYTES per job, shared by its spans
#: by length but at least STORE_MIN_BYTES each (a store past its share thins out).
STORE_EVERY_S = 0.25
STORE_QUALITY = 85
STORE_MAX_BYTES = 48 << 20
STORE_MIN_BYTES = 256 << 10
#: One frame looked at every this many seconds of a span, at least LOOK_MIN and at most LOOK_MAX. Below
#: models.stills.SEEK_GAP_S, so without a store neighbouring looks share one forward decoding pass instead
#: of each seeking back to a keyframe.
LOOK_EVERY_S = 1.9
LOOK_MIN = 3
LOOK_MAX = 6
#: At most this many objects (the ones with most events) get a crop of their own.
MAX_OBJECTS = 6
#: Shot-wide object evidence counts this much beside the crop's (the object is often visible in the
#: whole frame when the crop around the motion misses it).
SHOT_WEIGHT = 0.75
#: Objects that strike (a stick, a hammer) count this much against what is struck: the sound is the struck thing's.
STRIKER_WEIGHT = 0.5
#: A detected footstep is named after something else only on object evidence this strong.
MIN_FOOTSTEP_OBJECT_MASS = 0.25
#: Objects whose fast motion is a swing (swish) rather than a large pass (whoosh).
SWING_CATEGORIES = frozenset({"SPORTS", "FIGHT", "GUNS", "MUSICAL", "TOOLS", "WEAPONS"})


@dataclass
class ObjectGroup:
    """Events of one kind at one place within one shot."""

    shot: int
    kind: str
    events: list[Event] = field(default_factory=list)

    @property
    def x(self) -> float:
        return float(np.mean([e.x for e in self.events]))

    @property
    def y(self) -> float:
        return float(np.mean([e.y for e in self.events]))


def shot_of(t: float, shots: Sequence[tuple[float, float]]) -> int:
    """Index of the shot holding media time ``t`` (the nearest one when none does)."""
    for i, (a, b) in enumerate(shots):
        if a <= t < b:
            return i
    return int(np.argmin([min(abs(t - a), abs(t - b)) for a, b in shots])) if shots else 0


def cluster_events(events: Sequence[Event], shots: Sequence[tuple[float, float]],
                   radius: float = CLUSTER_RADIUS) -> list[ObjectGroup]:
    """Group located events per shot and kind by position (greedy, in time order)."""
    groups: list[ObjectGroup] = []
    for ev in sorted(events, key=lambda e: e.time_s):
        if not kind(ev.kind).located:
            continue
        s = shot_of(ev.time_s, shots)
        near = [g for g in groups if g.shot == s and g.kind == ev.kind
                and np.hypot(g.x - ev.x, g.y - ev.y) <= radius]
        if near:
            min(near, key=lambda g: np.hypot(g.x - ev.x, g.y - ev.y)).events.append(ev)
        else:
            groups.append(ObjectGroup(shot=s, kind=ev.kind, events=[ev]))
    return groups


def majority_category(events: Sequence[Event]) -> str | None:
    """The most common UCS Category of the transient events, else of the ambience events."""
    for pick in (lambda e: kind(e.kind).transient, lambda e: e.kind == "ambience"):
        cats = [e.ucs["category"] for e in events if pick(e) and e.ucs]
        if cats:
            return max(dict.fromkeys(cats), key=cats.count)
    return None


@dataclass
class Look:
    """Frames spread over a span and their class probabilities, taken before (or while) events are found."""

    times: list[float]
    frames: list[np.ndarray]
    probs: np.ndarray  # (len(frames), CLASSES)


def look_times(start_s: float, end_s: float, fps: float) -> list[float]:
    """Where to look in a span: about one frame every :data:`LOOK_EVERY_S`, :data:`LOOK_MIN` to :data:`LOOK_MAX`."""
    n = int(np.clip(np.ceil((end_s - start_s) / LOOK_EVERY_S), LOOK_MIN, LOOK_MAX))
    last = max(start_s, end_s - 1.5 / fps)
    return [float(min(last, start_s + (i + 0.5) * (end_s - start_s) / n)) for i in range(n)]


def frame_store(info: Any, start_s: float, end_s: float, share: float = 1.0) -> Any:
    """An empty colour frame store for a span (:class:`models.stills.FrameStore`), with the understanding's
    frame width and rate; the detector's decoding pass fills it inside :func:`models.video.keeping`.
    ``share``: the span's part of its job's length (its part of :data:`STORE_MAX_BYTES`)."""
    from models.stills import FrameStore

    return FrameStore(info.path, start_s, end_s, info.fps, every_s=STORE_EVERY_S, width=FRAME_WIDTH,
                      quality=STORE_QUALITY, max_bytes=max(STORE_MIN_BYTES, int(STORE_MAX_BYTES * share)))


def look(recognizer: Any, info: Any, start_s: float, end_s: float, store: Any = None) -> Look:
    """Take and classify a few frames of a span (it needs no events, so it can run beside detection):
    from ``store`` while the decoding pass fills it, each classified as soon as the decoding has passed
    it (so only the last is left when the decoding ends); else decoded."""
    from models.stills import colour_frames

    wanted = look_times(start_s, end_s, info.fps)
    times: list[float] = []
    frames: list[np.ndarray] = []
    probs = []
    for group in ([[t] for t in wanted] if store is not None else [wanted]):
        decoded = colour_frames(info, group, width=FRAME_WIDTH, store=store)
        if decoded:
            times += [t for t, _ in decoded]
            frames += [f for _, f in decoded]
            probs.append(recognizer.classify([f for _, f in decoded]))
    return Look(times=times, frames=frames,
                probs=np.concatenate(probs) if probs else no_probs())


def _crop_time(ev: Event) -> float:
    return ev.time_s + (0.5 * ev.duration_s if ev.kind == "whoosh" else 0.0)


def understand(recognizer: Any, info: Any, events: list[Event], shots: Sequence[tuple[float, float]],
               prompt: PromptHints | None = None, seen: Look | None = None, store: Any = None) -> None:
    """Fill ``ucs``, ``label``, ``material``, ``scene`` and ``evidence`` of ``events`` (one span of
    ``info``, with its ``shots`` as (start, end) media seconds). ``seen``: the span's :func:`look`, when it
    was taken already. ``store``: the span's :func:`frame_store`, filled by the detection's decoding pass
    (frames and crops come from it; without it they are decoded)."""
    from models.stills import colour_frames, rgb_frames_by_index

    if not events:
        return
    if not shots:
        shots = [(min(e.time_s for e in events), max(e.time_s + e.duration_s for e in events) + 1e-3)]
    if seen is None:
        seen = look(recognizer, info, min(a for a, _ in shots), max(b for _, b in shots), store)
    frame_shot = [shot_of(t, shots) for t in seen.times]
    # A shot no looked-at frame falls in gets one frame of its own.
    missing = [s for s in range(len(shots)) if s not in frame_shot][:LOOK_MAX]
    extra = colour_frames(info, [0.5 * (shots[s][0] + shots[s][1]) for s in missing], width=FRAME_WIDTH,
                          store=store)
    times, frames = list(seen.times), list(seen.frames)
    probs = [seen.probs] if len(seen.frames) else []
    if extra:
        times += [t for t, _ in extra]
        frames += [f for _, f in extra]
        frame_shot += missing[:len(extra)]
        probs.append(recognizer.classify([f for _, f in extra]))
    all_probs = np.concatenate(probs) if probs else no_probs()
    shot_probs = {s: all_probs[[i for i, fs in enumerate(frame_shot) if fs == s]].mean(axis=0)
                  for s in set(frame_shot)}
    shot_frames = {s: [frames[i] for i, fs in enumerate(frame_shot) if fs == s] for s in set(frame_shot)}

    groups = cluster_events(events, shots)
    pictured = sorted(groups, key=lambda g: -len(g.events))[:MAX_OBJECTS]
    crops, owners = [], []
    at = [(gi, g, float(np.median([_crop_time(ev) for ev in g.events]))) for gi, g in enumerate(pictured)]
    if store is not None:
        # The kept frame nearest the object's time, inside its shot (at most half the store's interval away).
        for gi, g, t in at:
            near = store.nearest(t, *shots[g.shot])
            if near is not None:
                crops.append(crop_around(near[1], g.x, g.y, CROP_SIZE))
                owners.append(gi)
    else:
        decoded = rgb_frames_by_index(info, [t for _, _, t in at], FRAME_WIDTH)
        for k, (_, frame) in sorted(decoded.items()):
            gi, g, _ = at[k]
            crops.append(crop_around(frame, g.x, g.y, CROP_SIZE))
            owners.append(gi)
    crop_probs = recognizer.classify(crops) if crops else no_probs()
    object_probs = {gi: crop_probs[k] for k, gi in enumerate(owners)}

    places = {s: _place(s, shot_probs, shot_frames, prompt) for s in range(len(shots))}
    for gi, g in enumerate(pictured):
        _name_group(g, object_probs.get(gi), shot_probs.get(g.shot), prompt)
    named = {id(g) for g in pictured}
    for g in groups:
        if id(g) not in named:
            _name_group(g, None, shot_probs.get(g.shot), prompt)
    for ev in events:
        place, place_ev = places[shot_of(ev.time_s, shots)]
        ev.scene = place.scene()
        if ev.kind == "ambience":
            ev.ucs = ucs.ref(place.cat_id)
            ev.label = place.label
            ev.evidence = {**ev.evidence, "motion": round(float(ev.confidence), 3), **place_ev}
            bed = prompt_cat_id(prompt, "ambience") if prompt is not None else None
            if prompt is not None and bed is not None and bed[0] != place.cat_id:  # "fire crackling"
                ev.ucs = ucs.ref(bed[0])
                ev.label = prompt.text.strip()[:80]
                ev.evidence["prompt"] = {**prompt.evidence(), "cat_id": bed[0], "score": round(bed[1], 3)}


def _place(s: int, shot_probs: dict[int, np.ndarray], shot_frames: dict[int, list[np.ndarray]],
           prompt: PromptHints | None) -> tuple[scenes.Place, dict[str, Any]]:
    if prompt is not None and prompt.place is not None:
        return prompt.place, {"scene_from": "prompt", "prompt": prompt.evidence(), "confidence": 0.8}
    p = shot_probs.get(s)
    if p is not None:
        seen = scenes.from_classes(p)
        if seen is not None:
            place, mass, name = seen
            return place, {"scene_from": "objects", "scene_objects": top_classes(p), "scene_cue": name,
                           "scene_score": round(mass, 3), "confidence": round(min(0.9, 0.3 + mass), 3)}
    place, conf = scenes.from_picture(shot_frames.get(s, []))
    extra = {"scene_objects": top_classes(p)} if p is not None else {}
    return place, {"scene_from": "sky", **extra, "confidence": conf}


def _name_group(g: ObjectGroup, p_obj: np.ndarray | None, p_shot: np.ndarray | None,
                prompt: PromptHints | None) -> None:
    """One CatID, label and material for every event of an object, then the prompt's say."""
    generic = kind(g.kind)
    footstep = g.kind == "footstep"
    combined = None
    if p_obj is not None:
        combined = p_obj + (SHOT_WEIGHT * p_shot if p_shot is not None and not footstep else 0.0)
    elif p_shot is not None and not footstep:
        combined = SHOT_WEIGHT * p_shot
    found = best_cue(combined, OBJECT_CUES) if combined is not None else None
    cue_ev: dict[str, Any] = {"objects": top_classes(p_obj)} if p_obj is not None else {}
    cat_id, material, confidence = generic.cat_id, None, 0.15
    label = {"impact": "unrecognised hit", "whoosh": "fast motion", "footstep": "footsteps"}.get(g.kind, g.kind)
    if footstep:
        confidence = 0.5
    strong = MIN_FOOTSTEP_OBJECT_MASS if footstep else MIN_OBJECT_MASS
    if found is not None and found[1] >= strong:
        cue, mass, name = found
        cue_ev.update(cue=name, cue_score=round(mass, 3))
        confidence = round(min(0.95, 0.3 + mass), 3)
        if g.kind == "whoosh":
            entry = ucs.entry(cue.cat_id)
            if entry is not None and entry.category in SWING_CATEGORIES:
                cat_id, label = "SWSH", f"{cue.label.split()[0]} swing"
        else:
            cat_id, label, material = cue.cat_id, cue.label, cue.material
    elif found is not None:
        cue_ev.update(weak_cue=found[2], weak_score=round(found[1], 3))
    for ev in g.events:
        own = CUE_SOUNDS.get(ev.extra.get("cue", ""))
        ev.ucs = ucs.ref(own[0] if own else cat_id)
        ev.label = own[1] if own else label
        ev.material = own[2] if own else material
        ev.evidence = {**ev.evidence, "motion": round(float(ev.confidence), 3), **cue_ev,
                       "object_events": len(g.events), "confidence": confidence}
        if own:
            ev.evidence["cue_sound"] = ev.extra["cue"]
        if prompt is not None:
            _steer(ev, prompt, visual_confidence=confidence)


def prompt_cat_id(prompt: PromptHints, kind_name: str) -> tuple[str, float] | None:
    """The CatID (and its score) a prompt gives an event of ``kind_name``, None where it says nothing:
    an ambience bed takes the prompt's place ("street"), else the bed it names ("fire crackling");
    other events the best CatID for their kind (:meth:`PromptHints.best`)."""
    if kind_name == "ambience" and prompt.place is not None:
        return prompt.place.cat_id, MIN_SCORE
    return prompt.best(kind_name)


def _steer(ev: Event, prompt: PromptHints, visual_confidence: float) -> None:
    """Let the prompt set the category and material of an event it fits, unless the picture is surer.
    Only the prompt's place words touch the scene (see :func:`_place`)."""
    best = prompt_cat_id(prompt, ev.kind)
    if best is None and prompt.material is not None and kind(ev.kind).transient and ev.kind != "footstep":
        best = (ucs.MATERIAL_IMPACTS.get(prompt.material, ""), 0.0)
    if best is None or ucs.entry(best[0]) is None:
        return
    cat_id, score = best
    entry = ucs.entry(cat_id)
    assert entry is not None
    strength = round(min(0.95, 0.45 + 0.15 * score), 3)
    ev.evidence["prompt"] = {**prompt.evidence(), "cat_id": cat_id, "score": round(score, 3)}
    current = (ev.ucs or {}).get("category")
    if current != entry.category and strength < visual_confidence:
        return
    if current != entry.category:
        ev.ucs = entry.ref()
        ev.label = prompt.text.strip()[:80]
    ev.evidence["confidence"] = max(strength, visual_confidence)
    if ev.kind == "footstep":
        ev.material = prompt.material or ev.material
    elif ev.kind != "whoosh":
        ev.material = prompt.material or ucs.category_material(entry.category) or ev.material
