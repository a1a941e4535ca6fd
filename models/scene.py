"""A shot's scene: indoor or not, what kind of place, a room-size hint, and the ambience CatID for it.

Three sources, strongest first: place words in the editor's prompt (``PLACE_WORDS``), places the
recognizer sees in the shot's frames (``CLASS_PLACES``), and last a picture heuristic
(how much of the top third of the frame looks like sky) that only tells outdoors from a room.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

#: Scene evidence weaker than this (probability mass of place classes) is not used.
MIN_SCENE_MASS = 0.08
#: Share of sky-like pixels in the top third above which a shot counts as outdoors.
SKY_SHARE = 0.25


@dataclass(frozen=True)
class Place:
    """A kind of place: its ambience CatID, words, indoor or not, and room size for reverb."""

    cat_id: str
    label: str
    indoor: bool
    room: str  # "outdoor" | "small" | "hall"

    def scene(self) -> dict[str, Any]:
        return {"indoor": self.indoor, "label": self.label, "room": self.room}


def _places(words: str, cat_id: str, label: str, indoor: bool, room: str) -> dict[str, Place]:
    return {w.strip(): Place(cat_id, label, indoor, room) for w in words.split(",")}


#: Prompt words that name a place (they steer the scene, not the events' category).
PLACE_WORDS: dict[str, Place] = {
    **_places("workshop, forge, smithy, garage, shed", "AMBInd", "workshop", True, "small"),
    **_places("factory, warehouse, plant, mill", "AMBInd", "factory", True, "hall"),
    **_places("kitchen, house, home, apartment, flat, bedroom, bathroom", "AMBHome", "home", True, "small"),
    **_places("room, studio, basement, cellar, attic", "AMBRoom", "room", True, "small"),
    **_places("corridor, hallway, hall, lobby, auditorium, theater, theatre", "AMBPubl", "hall", True, "hall"),
    **_places("office", "AMBOffc", "office", True, "small"),
    **_places("church, cathedral, chapel, temple, mosque", "AMBRlgn", "church", True, "hall"),
    **_places("gym, stadium, arena, court, dojo", "AMBSprt", "sport venue", True, "hall"),
    **_places("restaurant, bar, cafe, pub", "AMBRest", "restaurant", True, "small"),
    **_places("street, city, town, road, highway, traffic, downtown", "AMBTraf", "street", False, "outdoor"),
    **_places("forest, woods, jungle, trees", "AMBForst", "forest", False, "outdoor"),
    **_places("park, garden, backyard, yard", "AMBPark", "park", False, "outdoor"),
    **_places("field, meadow, grassland, prairie", "AMBGras", "grassland", False, "outdoor"),
    **_places("farm, barn, pasture", "AMBFarm", "farm", False, "outdoor"),
    **_places("beach, sea, ocean, shore, coast", "AMBSea", "seaside", False, "outdoor"),
    **_places("lake, pond, lakeside", "AMBLake", "lakeside", False, "outdoor"),
    **_places("river, stream, creek, brook", "WATRFlow", "river", False, "outdoor"),
    **_places("waterfall, cascade", "WATRFall", "waterfall", False, "outdoor"),
    **_places("rain, rainy, downpour, drizzle", "RAIN", "rain", False, "outdoor"),
    **_places("wind, windy, gale", "WIND", "wind", False, "outdoor"),
    **_places("storm, thunderstorm", "STORM", "storm", False, "outdoor"),
    **_places("desert, dunes", "AMBDsrt", "desert", False, "outdoor"),
    **_places("mountain, mountains, alps, valley", "AMBAlpn", "mountains", False, "outdoor"),
    **_places("car, driving, truck, bus", "VEHInt", "vehicle interior", True, "small"),
    **_places("train, subway", "TRNInt", "train interior", True, "small"),
    **_places("underground, tunnel, cave, mine", "AMBUndr", "underground", True, "hall"),
    **_places("range, outdoors, outdoor, outside, sky", "AMBAir", "outdoors", False, "outdoor"),
    **_places("indoors, indoor, inside", "AMBRoom", "room", True, "small"),
}

#: ImageNet class -> what kind of place a shot shows.
CLASS_PLACES: dict[str, Place] = {
    **_places("lakeside, boathouse, dock, canoe", "AMBLake", "lakeside", False, "outdoor"),
    **_places("seashore, sandbar, breakwater, promontory, coral reef, pier", "AMBSea", "seaside", False, "outdoor"),
    **_places("fountain", "WATRFoun", "fountain", False, "outdoor"),
    **_places("dam", "WATRFall", "waterfall", False, "outdoor"),
    **_places("geyser", "GEOGeyser", "geyser", False, "outdoor"),
    **_places("alp, cliff, valley, volcano, mountain tent", "AMBAlpn", "mountains", False, "outdoor"),
    **_places("barn, hay, worm fence, picket fence, harvester, thresher, tractor, oxcart, ox, ram, bighorn, "
              "hog, sorrel", "AMBFarm", "farm", False, "outdoor"),
    **_places("park bench, patio, maypole", "AMBPark", "park", False, "outdoor"),
    **_places("street sign, traffic light, parking meter, cab, trolleybus, streetcar, minibus, school bus, "
              "police van, garbage truck, moving van", "AMBTraf", "street", False, "outdoor"),
    **_places("car mirror, seat belt, car wheel, grille, convertible, sports car, jeep, minivan, limousine, "
              "beach wagon, pickup, racer", "VEHInt", "car", True, "small"),
    **_places("oil filter, disk brake", "MOTRComb", "engine", False, "outdoor"),
    **_places("bullet train, electric locomotive, steam locomotive, freight car, passenger car", "TRNMisc",
              "train", False, "outdoor"),
    **_places("restaurant, butcher shop, bakery, confectionery, espresso maker, dining table", "AMBRest",
              "restaurant", True, "small"),
    **_places("library, bookshop, grocery store, toyshop, shoe shop, tobacco shop, barbershop, turnstile",
              "AMBPubl", "public place", True, "hall"),
    **_places("church, monastery, mosque, altar, organ, stupa, bell cote", "AMBRlgn", "church", True, "hall"),
    **_places("cinema, stage, theater curtain, planetarium", "AMBPubl", "hall", True, "hall"),
    **_places("desk, desktop computer, monitor, laptop, photocopier, printer, notebook", "AMBOffc", "office",
              True, "small"),
    **_places("studio couch, bookcase, wardrobe, four-poster, quilt, table lamp, rocking chair, television, "
              "home theater, entertainment center, window shade", "AMBHome", "home", True, "small"),
    **_places("dumbbell, barbell, horizontal bar, parallel bars, balance beam", "AMBSprt", "gym", True, "hall"),
    **_places("lumbermill, carpenter's kit, potter's wheel", "AMBInd", "workshop", True, "small"),
    **_places("umbrella, rain barrel", "RAIN", "rain", False, "outdoor"),
}

#: Fallbacks when nothing names the place.
OUTDOORS = Place("AMBAir", "outdoors", False, "outdoor")
ROOM = Place("AMBRoom", "room", True, "small")


def sky_share(frame: np.ndarray) -> float:
    """Share of the top third of an RGB frame that looks like sky (blue, or bright and grey)."""
    top = frame[: max(1, frame.shape[0] // 3)].astype(np.int16)
    r, g, b = top[..., 0], top[..., 1], top[..., 2]
    blue = (b > r + 15) & (b > 90)
    bright = (r > 185) & (g > 185) & (b > 185) & (np.abs(r - b) < 25)
    return float(np.mean(blue | bright))


def from_picture(frames: Sequence[np.ndarray]) -> tuple[Place, float]:
    """Outdoors or a room from the sky heuristic, with its (low) confidence."""
    if not frames:
        return ROOM, 0.1
    share = float(np.mean([sky_share(f) for f in frames]))
    return (OUTDOORS, 0.3) if share >= SKY_SHARE else (ROOM, 0.2)


def from_classes(probs: np.ndarray) -> tuple[Place, float, str] | None:
    """The place the recognizer sees in a shot (mean class probabilities), with its mass and class."""
    from models.recognize import best_cue

    found = best_cue(probs, CLASS_PLACES)
    if found is None or found[1] < MIN_SCENE_MASS:
        return None
    place, mass, name = found
    return place, mass, name
