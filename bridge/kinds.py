"""Event kinds: the one table of what the detector can find, the track each kind goes on, its
generic UCS CatID and which UCS categories a sound for it may come from.

Everything that lists kinds reads this table: options and CLI choices, the synth, the library's
fits, the OTIO/stem tracks and the ordered track list in ``result.json`` that the host scripts
read. Pure data, no heavy imports.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from bridge.errors import InputError


@dataclass(frozen=True)
class Kind:
    """One temporal shape of sound event."""

    name: str
    #: The OTIO/stem track its clips go on.
    track: str
    #: UCS 8.2.1 CatID used when nothing more specific is recognised.
    cat_id: str
    #: A short onset (impact, step) rather than a span (whoosh, ambience bed).
    transient: bool
    #: The event sits in one place on screen, so what is seen there tells its object and material.
    located: bool
    #: Reference loudness (LUFS, BS.1770) of its sounds at intensity 0.5 (models.levels).
    reference_lufs: float = -26.0
    #: Level range over intensity 0..1 (dB, centred on 0.5).
    intensity_range_db: float = 18.0
    #: A recorded CatID that may stand in when only the generic ``cat_id`` is known and no source
    #: has a recording of it (a plain wooden knock for an unrecognised hit); None: synthesize instead.
    stand_in: str | None = None
    #: UCS category fits for library sounds: {"CATEGORY" | "CATEGORY/SUBCATEGORY" | "*/SUBCATEGORY": 0..1};
    #: the most specific key wins (see models.ucs.kind_fit).
    fits: Mapping[str, float] = field(default_factory=dict)


KIND_TABLE: tuple[Kind, ...] = (
    Kind("impact", "Foley Impacts", "FOLYProp", transient=True, located=True, reference_lufs=-24.0,
         stand_in="WOODImpt", fits={
        "*/IMPACT": 1.0, "FOLEY/PROP": 0.9, "*/BODYFALL": 0.9, "*/BREAK": 0.8, "*/CRASH & DEBRIS": 0.8,
        "*/KNOCK": 0.8, "*/BOOM": 0.7, "DESTRUCTION": 0.8, "FIGHT": 0.7, "EXPLOSIONS": 0.6, "GUNS": 0.7,
        "BULLETS": 0.6, "FIREWORKS": 0.6, "MUSICAL/PERCUSSION": 0.7, "TOOLS/HAND": 0.6, "SPORTS": 0.5,
        "FOOD & DRINK/COOKING": 0.6, "FOOD & DRINK/KITCHENWARE": 0.6, "WEAPONS": 0.5,
        "DOORS": 0.6, "DOORS/SLIDING": 0.3, "DOORS/CREAK": 0.2, "METAL": 0.5, "WOOD": 0.5, "GLASS": 0.5,
        "ROCKS": 0.5, "PLASTIC": 0.5, "CERAMICS": 0.5, "OBJECTS": 0.5, "*/MOVEMENT": 0.2, "*/FRICTION": 0.2,
        "*/TONAL": 0.3, "*/HANDLE": 0.4, "FOOTSTEPS": 0.2}),
    Kind("footstep", "Foley Footsteps", "FEETHmn", transient=True, located=True, reference_lufs=-30.0, fits={
        "FOOTSTEPS": 1.0, "FOLEY/FEET": 1.0, "FOLEY": 0.3, "*/IMPACT": 0.2}),
    Kind("whoosh", "FX Whooshes", "WHSH", transient=False, located=True, reference_lufs=-27.0, fits={
        "SWOOSHES": 1.0, "DESIGNED/WHOOSH": 0.9, "FIRE/WHOOSH": 0.5, "AIR": 0.4, "WIND/GUST": 0.4,
        "WINGS": 0.4, "WEAPONS/WHIP": 0.7}),
    Kind("ambience", "Ambience", "AMBMisc", transient=False, located=False, reference_lufs=-38.0,
         intensity_range_db=8.0, fits={
        "AMBIENCE": 1.0, "*/ROOM TONE": 1.0, "WIND": 0.6, "RAIN": 0.6, "WEATHER": 0.6, "WATER/FLOW": 0.6,
        "WATER/WATERFALL": 0.6, "WATER/FOUNTAIN": 0.6, "WATER/SURF": 0.6, "GEOTHERMAL": 0.5, "CROWDS": 0.5,
        "VEHICLES/INTERIOR": 0.6, "TRAINS/INTERIOR": 0.6, "TRAINS/MISC": 0.5, "MOTORS/COMBUSTION": 0.5,
        "WIND/GUST": 0.2, "FIRE/BURNING": 0.5, "FIRE/CRACKLE": 0.5}),
)

KINDS: tuple[str, ...] = tuple(k.name for k in KIND_TABLE)
KIND_TRACKS: dict[str, str] = {k.name: k.track for k in KIND_TABLE}
_BY_NAME = {k.name: k for k in KIND_TABLE}


def kind(name: str) -> Kind:
    """The table row of one kind; an error naming the valid kinds when there is none."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise InputError(f"event kind {name!r} is not one of: {', '.join(KINDS)}") from None


def parse_kinds(value: Any) -> list[str]:
    """Kinds from ``"impact,footstep"`` or a list; each checked, at least one, duplicates dropped."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        if not any(parts):
            raise InputError(f"event kinds {value!r} name no kind; give a comma-separated list of: "
                             f"{', '.join(KINDS)}")
        if "" in parts:
            raise InputError(f"event kinds {value!r} have an empty entry; give a comma-separated list of: "
                             f"{', '.join(KINDS)}")
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        raise InputError(f"event kinds {value!r} must be a list or a comma-separated text of: {', '.join(KINDS)}")
    if not parts:
        raise InputError(f"event kinds name no kind; give at least one of: {', '.join(KINDS)}")
    for p in parts:
        kind(p)
    return list(dict.fromkeys(parts))


def tracks_json() -> list[dict[str, str]]:
    """The ordered track list for ``result.json``: ``[{"name": "Foley Impacts", "kind": "impact"}, ...]``."""
    return [{"name": k.track, "kind": k.name} for k in KIND_TABLE]
