"""The sound event: what the detector finds and every later stage decorates."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bridge.kinds import KIND_TRACKS, KINDS

__all__ = ["KINDS", "KIND_TRACKS", "Event"]


@dataclass
class Event:
    """One sound event in a video's media time.

    ``time_s`` is the onset (sub-frame precision); ``x``/``y`` are 0..1 of the frame
    (0,0 top-left); ``intensity`` is 0..1. ``ucs``, ``label``, ``material``, ``scene`` and ``evidence``
    are filled by recognition; ``id``, ``clip``, ``track`` and ``snap_offset_s`` by the render stage.
    """

    kind: str
    time_s: float
    duration_s: float
    confidence: float
    x: float = 0.5
    y: float = 0.5
    intensity: float = 0.5
    id: int = 0
    clip: str | None = None
    track: str | None = None
    snap_offset_s: float = 0.0
    #: What is heard, filled by recognition: ``{"cat_id", "category", "subcategory"}`` (UCS 8.2.1).
    ucs: dict[str, str] | None = None
    #: What was recognised, in words ("hammer on metal plate").
    label: str | None = None
    #: Material where it applies (metal, wood, glass, stone, ...); one object keeps one within a shot.
    material: str | None = None
    #: Ambience events and room hints: ``{"indoor": bool, "label": "workshop", "room": "small"}``.
    scene: dict[str, Any] | None = None
    #: The cues behind the event and its understanding, with their scores.
    evidence: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        extra = d.pop("extra")
        d.update(extra)
        return d
