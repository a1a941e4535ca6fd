"""Universal Category System (UCS) names, keyword categories for other names, and which
categories fit which event kind.

A UCS file name reads ``CatID_FXName_CreatorID_SourceID[_UserData].ext``, for example
``FEETHmn_Gravel walk_ABC_Lib.wav``. The CatID is a category code in capitals followed by a
subcategory code (``FEET`` + ``Hmn`` -> FOOTSTEPS / HUMAN); a ``-UserCategory`` may follow it.
Names that are not UCS get a category from keywords (``minetest_default_hard_footstep.1.ogg``
-> FOOTSTEPS). Everything here is pure string work.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

#: Category codes (the capital prefix of a CatID) -> UCS category.
CATEGORY_CODES: dict[str, str] = {
    "AIR": "AIR", "AMB": "AMBIENCE", "ANML": "ANIMALS", "BELL": "BELLS", "BIRD": "BIRDS",
    "BOAT": "BOATS", "BLLT": "BULLETS", "CART": "CARTOON", "CERM": "CERAMICS", "CHAIN": "CHAINS",
    "CLOCK": "CLOCKS", "CLTH": "CLOTH", "CRWD": "CROWDS", "DSGN": "DESIGNED", "DSTR": "DESTRUCTION",
    "DIRT": "DIRT & SAND", "DOOR": "DOORS", "DRWR": "DRAWERS", "ELEC": "ELECTRICITY",
    "EXPL": "EXPLOSIONS", "FGHT": "FIGHT", "FIRE": "FIRE", "FOLY": "FOLEY", "FEET": "FOOTSTEPS",
    "FOOD": "FOOD & DRINK", "GLAS": "GLASS", "GUN": "GUNS", "HUMN": "HUMAN", "ICE": "ICE",
    "IMPT": "IMPACTS", "LASR": "LASERS", "LETH": "LEATHER", "LIQD": "LIQUID & MUD",
    "MACH": "MACHINES", "MECH": "MECHANICAL", "METL": "METAL", "MOVE": "MOVEMENT", "OBJ": "OBJECTS",
    "PAPR": "PAPER", "PLAS": "PLASTIC", "RAIN": "RAIN", "RMTN": "ROOM TONE", "ROCK": "ROCKS",
    "ROPE": "ROPE", "RUBR": "RUBBER", "SCIFI": "SCIFI", "SNOW": "SNOW", "SWSH": "SWOOSHES",
    "SWOOSH": "SWOOSHES", "TOOL": "TOOLS", "TOY": "TOYS", "VEH": "VEHICLES", "WATR": "WATER",
    "WEAP": "WEAPONS", "WHSH": "WHOOSHES", "WHOOSH": "WHOOSHES", "WIND": "WIND", "WNDW": "WINDOWS",
    "WING": "WINGS", "WOOD": "WOOD",
}

#: Subcategory codes (the part after the category code) shared by many categories.
SUBCATEGORY_CODES: dict[str, str] = {
    "Anml": "ANIMAL", "Antq": "ANTIQUE", "Brk": "BREAK", "Bf": "BODYFALL", "By": "BY", "Clth": "CLOTH",
    "Crsh": "CRASH & DEBRIS", "Crtr": "CREATURE", "Dsgn": "DESIGNED", "Elec": "ELECTRIC",
    "Feet": "FEET", "Fric": "FRICTION", "Gate": "GATE", "Glas": "GLASS", "Grab": "GRAB",
    "Hand": "HANDS", "Hmn": "HUMAN", "Hors": "HORSE", "Impt": "IMPACT", "Knck": "KNOCK",
    "Metl": "METAL", "Misc": "MISC", "Mvmt": "MOVEMENT", "Plas": "PLASTIC", "Prop": "PROPS",
    "Rattl": "RATTLE", "Real": "REAL", "Room": "ROOM TONE", "Slid": "SLIDING", "Sqk": "SQUEAK",
    "Ston": "STONE", "Swsh": "SWOOSH", "Tonl": "TONAL", "Whip": "WHIP", "Wood": "WOOD",
    "Air": "AIR", "Cnst": "CONSTRUCTION", "Dsrt": "DESERT", "Forst": "FOREST", "Ind": "INDUSTRIAL",
    "Offc": "OFFICE", "Park": "PARK", "Rest": "RESTAURANT", "Rurl": "RURAL", "Town": "TOWN",
    "Traf": "TRAFFIC", "Urbn": "URBAN", "Gust": "GUST", "Boom": "BOOM", "Body": "BODY",
}

#: Common CatIDs spelled out (wins over the computed split above).
CATIDS: dict[str, tuple[str, str]] = {
    "FEETHmn": ("FOOTSTEPS", "HUMAN"), "FEETAnml": ("FOOTSTEPS", "ANIMAL"),
    "FEETCrtr": ("FOOTSTEPS", "CREATURE"), "FEETHors": ("FOOTSTEPS", "HORSE"),
    "FEETMisc": ("FOOTSTEPS", "MISC"),
    "FOLYFeet": ("FOLEY", "FEET"), "FOLYClth": ("FOLEY", "CLOTH"), "FOLYHand": ("FOLEY", "HANDS"),
    "FOLYProp": ("FOLEY", "PROPS"), "FOLYMisc": ("FOLEY", "MISC"),
    "IMPTMisc": ("IMPACTS", "MISC"),
    "METLImpt": ("METAL", "IMPACT"), "METLBrk": ("METAL", "BREAK"), "METLCrsh": ("METAL", "CRASH & DEBRIS"),
    "METLFric": ("METAL", "FRICTION"), "METLMvmt": ("METAL", "MOVEMENT"), "METLRattl": ("METAL", "RATTLE"),
    "METLTonl": ("METAL", "TONAL"), "METLMisc": ("METAL", "MISC"),
    "WOODImpt": ("WOOD", "IMPACT"), "WOODBrk": ("WOOD", "BREAK"), "WOODCrsh": ("WOOD", "CRASH & DEBRIS"),
    "WOODFric": ("WOOD", "FRICTION"), "WOODMvmt": ("WOOD", "MOVEMENT"), "WOODMisc": ("WOOD", "MISC"),
    "GLASImpt": ("GLASS", "IMPACT"), "GLASBrk": ("GLASS", "BREAK"), "GLASCrsh": ("GLASS", "CRASH & DEBRIS"),
    "GLASMvmt": ("GLASS", "MOVEMENT"), "GLASMisc": ("GLASS", "MISC"),
    "ROCKImpt": ("ROCKS", "IMPACT"), "ROCKBrk": ("ROCKS", "BREAK"), "ROCKMvmt": ("ROCKS", "MOVEMENT"),
    "PLASImpt": ("PLASTIC", "IMPACT"), "CERMImpt": ("CERAMICS", "IMPACT"), "DIRTImpt": ("DIRT & SAND", "IMPACT"),
    "FGHTImpt": ("FIGHT", "IMPACT"), "FGHTBf": ("FIGHT", "BODYFALL"), "FGHTGrab": ("FIGHT", "GRAB"),
    "DSGNImpt": ("DESIGNED", "IMPACT"), "DSGNBoom": ("DESIGNED", "BOOM"), "DSGNWhsh": ("DESIGNED", "WHOOSH"),
    "DSTRCrsh": ("DESTRUCTION", "CRASH & DEBRIS"), "DSTRMisc": ("DESTRUCTION", "MISC"),
    "EXPLReal": ("EXPLOSIONS", "REAL"), "EXPLDsgn": ("EXPLOSIONS", "DESIGNED"), "EXPLMisc": ("EXPLOSIONS", "MISC"),
    "DOORWood": ("DOORS", "WOOD"), "DOORMetl": ("DOORS", "METAL"), "DOORGlas": ("DOORS", "GLASS"),
    "DOORPlas": ("DOORS", "PLASTIC"), "DOORSlid": ("DOORS", "SLIDING"), "DOORKnck": ("DOORS", "KNOCK"),
    "DOORSqk": ("DOORS", "SQUEAK"), "DOORMisc": ("DOORS", "MISC"),
    "WHSHAir": ("WHOOSHES", "AIR"), "WHSHBy": ("WHOOSHES", "BY"), "WHSHDsgn": ("WHOOSHES", "DESIGNED"),
    "WHSHSwsh": ("WHOOSHES", "SWOOSH"), "WHSHMisc": ("WHOOSHES", "MISC"), "WHOOSH": ("WHOOSHES", "MISC"),
    "SWSHSwsh": ("SWOOSHES", "SWOOSH"), "SWSHWhip": ("SWOOSHES", "WHIP"), "SWSHMisc": ("SWOOSHES", "MISC"),
    "AMBRoom": ("AMBIENCE", "ROOM TONE"), "AMBUrbn": ("AMBIENCE", "URBAN"), "AMBForst": ("AMBIENCE", "FOREST"),
    "AMBRurl": ("AMBIENCE", "RURAL"), "AMBOffc": ("AMBIENCE", "OFFICE"), "AMBInd": ("AMBIENCE", "INDUSTRIAL"),
    "AMBTraf": ("AMBIENCE", "TRAFFIC"), "AMBMisc": ("AMBIENCE", "MISC"), "RMTNMisc": ("ROOM TONE", "MISC"),
    "WINDGust": ("WIND", "GUST"), "WINDMisc": ("WIND", "MISC"), "RAINMisc": ("RAIN", "MISC"),
}

#: Event kind -> {category or "CATEGORY/SUBCATEGORY" or "*/SUBCATEGORY": fit 0..1}. The most
#: specific key wins. A fit of at least :data:`FIT_MIN` makes a file a candidate for the kind.
KIND_FITS: dict[str, dict[str, float]] = {
    "footstep": {"FOOTSTEPS": 1.0, "FOLEY/FEET": 1.0, "FOLEY": 0.3, "*/IMPACT": 0.2},
    "whoosh": {"WHOOSHES": 1.0, "SWOOSHES": 1.0, "DESIGNED/WHOOSH": 0.9, "*/SWOOSH": 0.9,
               "*/WHIP": 0.7, "AIR": 0.4, "WIND/GUST": 0.4, "WINGS": 0.4},
    "ambience": {"AMBIENCE": 1.0, "ROOM TONE": 1.0, "*/ROOM TONE": 1.0, "WIND": 0.6, "RAIN": 0.6,
                 "CROWDS": 0.5, "WIND/GUST": 0.2},
    "impact": {"IMPACTS": 1.0, "*/IMPACT": 1.0, "*/BODYFALL": 0.9, "*/BREAK": 0.8,
               "*/CRASH & DEBRIS": 0.8, "*/KNOCK": 0.8, "*/BOOM": 0.7, "DESTRUCTION": 0.8, "FIGHT": 0.7,
               "EXPLOSIONS": 0.6, "DOORS": 0.6, "DOORS/SLIDING": 0.3, "DOORS/SQUEAK": 0.2,
               "METAL": 0.5, "WOOD": 0.5, "GLASS": 0.5, "ROCKS": 0.5, "PLASTIC": 0.5, "CERAMICS": 0.5,
               "OBJECTS": 0.5, "*/MOVEMENT": 0.2, "*/FRICTION": 0.2, "*/TONAL": 0.3, "*/RATTLE": 0.3,
               "FOOTSTEPS": 0.2},
}
FIT_MIN = 0.5

#: Keyword -> category, for names that are not UCS. Actions first, materials give the subcategory.
ACTION_WORDS: dict[str, str] = {
    **dict.fromkeys(["footstep", "footsteps", "step", "steps", "walk", "walking", "walks", "jog",
                     "stomp", "land", "landing", "foot", "feet", "shoe", "shoes"], "FOOTSTEPS"),
    **dict.fromkeys(["whoosh", "whooshes", "woosh", "passby", "flyby", "swing", "whip",
                     "swipe"], "WHOOSHES"),
    **dict.fromkeys(["swoosh", "swooshes", "swish"], "SWOOSHES"),
    **dict.fromkeys(["ambience", "ambiance", "ambient", "amb", "atmos", "atmosphere", "roomtone",
                     "background", "bg"], "AMBIENCE"),
    **dict.fromkeys(["door", "doors", "gate", "fencegate"], "DOORS"),
    **dict.fromkeys(["boom", "explosion", "explode", "blast"], "EXPLOSIONS"),
    **dict.fromkeys(["destroy", "destruction", "debris", "collapse"], "DESTRUCTION"),
    **dict.fromkeys(["wind", "gust"], "WIND"),
    **dict.fromkeys(["rain"], "RAIN"),
    **dict.fromkeys(["blaster", "laser", "gun", "gunshot", "shot"], "WEAPONS"),
}
IMPACT_WORDS = frozenset([
    "impact", "impacts", "hit", "hits", "thud", "thump", "punch", "knock", "bang", "slam", "smash",
    "crash", "break", "broken", "shatter", "drop", "dig", "dug", "place", "chop", "choppy", "clang",
    "clank", "fall", "bodyfall", "kick", "strike", "collide", "tap", "stab", "bump"])
MATERIAL_WORDS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(["metal", "metallic", "steel", "iron", "tin", "aluminium", "aluminum"], ("METAL", "METAL")),
    **dict.fromkeys(["wood", "wooden", "plank", "timber"], ("WOOD", "WOOD")),
    **dict.fromkeys(["glass", "window", "bottle"], ("GLASS", "GLASS")),
    **dict.fromkeys(["stone", "rock", "rocks", "concrete", "brick"], ("ROCKS", "STONE")),
    **dict.fromkeys(["gravel"], ("DIRT & SAND", "GRAVEL")),
    **dict.fromkeys(["sand", "dirt", "soil", "earth"], ("DIRT & SAND", "DIRT & SAND")),
    **dict.fromkeys(["snow"], ("SNOW", "SNOW")),
    **dict.fromkeys(["plastic"], ("PLASTIC", "PLASTIC")),
    **dict.fromkeys(["ceramic", "ceramics", "porcelain", "plate"], ("CERAMICS", "CERAMICS")),
    **dict.fromkeys(["water", "splash", "puddle"], ("WATER", "WATER")),
    **dict.fromkeys(["cloth", "fabric", "clothes"], ("CLOTH", "CLOTH")),
    **dict.fromkeys(["paper", "cardboard"], ("PAPER", "PAPER")),
}
_CAT_PREFIXES = sorted(CATEGORY_CODES, key=len, reverse=True)
_TOKEN = re.compile(r"[A-Za-z]+|[0-9]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


@dataclass(frozen=True)
class UCSName:
    """What a file name says: UCS fields when it is a UCS name, else a keyword category."""

    cat_id: str
    category: str
    subcategory: str
    fx_name: str
    creator_id: str = ""
    source_id: str = ""
    user_category: str = ""
    is_ucs: bool = False


def lookup_catid(cat_id: str) -> tuple[str, str] | None:
    """(category, subcategory) of a CatID such as ``FEETHmn``; None when it is not one."""
    if cat_id in CATIDS:
        return CATIDS[cat_id]
    for prefix in _CAT_PREFIXES:
        if cat_id.startswith(prefix):
            rest = cat_id[len(prefix):]
            if not rest:
                return CATEGORY_CODES[prefix], "MISC"
            if rest[0].isupper() and (len(rest) == 1 or not rest[1:].isupper()):
                return CATEGORY_CODES[prefix], SUBCATEGORY_CODES.get(rest, rest.upper())
    return None


def tokens(text: str) -> list[str]:
    """Lower-case word tokens of a name or description (camelCase split, digits dropped)."""
    return [t.lower() for t in _TOKEN.findall(_CAMEL.sub(" ", text)) if not t.isdigit()]


def keyword_category(text: str) -> tuple[str, str]:
    """(category, subcategory) from the words of a non-UCS name or description; ("", "") if none."""
    words = tokens(text)
    wordset = set(words)
    action = next((ACTION_WORDS[w] for w in words if w in ACTION_WORDS), "")
    if "room" in wordset and "tone" in wordset:
        action = "AMBIENCE"
    material = next((MATERIAL_WORDS[w] for w in words if w in MATERIAL_WORDS), None)
    impact = bool(wordset & IMPACT_WORDS)
    if action in ("FOOTSTEPS", "DOORS"):
        return action, material[1] if material else "MISC"
    if action == "AMBIENCE":
        return action, "ROOM TONE" if ("room" in wordset and "tone" in wordset) or "roomtone" in wordset else "MISC"
    if action and action != "WEAPONS":
        return action, "MISC"
    if impact:
        if "fall" in wordset or "bodyfall" in wordset:
            return (material[0] if material else "IMPACTS"), "BODYFALL"
        return (material[0] if material else "IMPACTS"), "IMPACT"
    if action:
        return action, "MISC"
    if material:
        return material[0], "MISC"
    return "", ""


def parse_name(filename: str) -> UCSName:
    """Parse a file name (with or without folder and extension)."""
    stem = filename.replace("\\", "/").rsplit("/", 1)[-1]
    if "." in stem:
        stem = stem.rsplit(".", 1)[0]
    parts = stem.split("_")
    head = parts[0]
    cat_id, _, user_category = head.partition("-")
    found = lookup_catid(cat_id) if len(parts) >= 2 else None
    if found is not None:
        fx = parts[1].strip()
        return UCSName(cat_id=cat_id, category=found[0], subcategory=found[1], fx_name=fx,
                       creator_id=parts[2] if len(parts) > 2 else "",
                       source_id=parts[3] if len(parts) > 3 else "",
                       user_category=user_category, is_ucs=True)
    category, subcategory = keyword_category(stem)
    return UCSName(cat_id="", category=category, subcategory=subcategory, fx_name=stem)


def kind_fit(category: str, subcategory: str, kind: str) -> float:
    """How well a (category, subcategory) suits an event kind, 0..1 (most specific rule wins)."""
    table = KIND_FITS.get(kind, {})
    for key in (f"{category}/{subcategory}", f"*/{subcategory}", category):
        if key in table:
            return table[key]
    return 0.0


def kind_fits(category: str, subcategory: str) -> dict[str, float]:
    """Fit of one category for every event kind."""
    return {kind: kind_fit(category, subcategory, kind) for kind in KIND_FITS}
