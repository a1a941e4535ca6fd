"""The Universal Category System (UCS 8.2.1): the project's one sound vocabulary.

The whole list ships as package data (``models/data/ucs_v8.2.1_en.json``, CC0, from the
ucs-community repository): 752 CatIDs, each with Category, SubCategory, CatShort, Explanations and
Synonyms. It is read lazily, once per process.

A UCS file name reads ``CatID_FXName_CreatorID_SourceID[_UserData].ext``, for example
``FEETHmn_Gravel walk_ABC_Lib.wav``; a ``-UserCategory`` may follow the CatID. Names that are not
UCS get a category from keywords (``minetest_default_hard_footstep.1.ogg`` -> FOOTSTEPS). Which
categories suit which event kind comes from the kinds table (:mod:`bridge.kinds`).
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from bridge.kinds import KIND_TABLE

UCS_VERSION = "8.2.1"
DATA_FILE = "ucs_v8.2.1_en.json"


@dataclass(frozen=True)
class Entry:
    """One UCS CatID."""

    cat_id: str
    category: str
    subcategory: str
    cat_short: str
    explanations: str
    synonyms: tuple[str, ...]

    def ref(self) -> dict[str, str]:
        """What an event carries: ``{"cat_id", "category", "subcategory"}``."""
        return {"cat_id": self.cat_id, "category": self.category, "subcategory": self.subcategory}


@lru_cache(maxsize=1)
def entries() -> tuple[Entry, ...]:
    """Every UCS 8.2.1 CatID, in the list's order (read once)."""
    text = resources.files("models").joinpath("data").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return tuple(Entry(cat_id=r["CatID"], category=r["Category"], subcategory=r["SubCategory"],
                       cat_short=r["CatShort"], explanations=r.get("Explanations") or "",
                       synonyms=tuple(r.get("Synonyms") or ()))
                 for r in json.loads(text))


@lru_cache(maxsize=1)
def _by_catid() -> dict[str, Entry]:
    return {e.cat_id: e for e in entries()}


@lru_cache(maxsize=1)
def _by_name() -> dict[tuple[str, str], Entry]:
    return {(e.category, e.subcategory): e for e in entries()}


@lru_cache(maxsize=1)
def _by_short() -> dict[str, list[Entry]]:
    out: dict[str, list[Entry]] = {}
    for e in entries():
        out.setdefault(e.cat_short, []).append(e)
    return out


def entry(cat_id: str) -> Entry | None:
    """The UCS entry of a CatID (exact, case-sensitive as UCS spells it); None when it is not one."""
    return _by_catid().get(cat_id)


def find(category: str, subcategory: str = "MISC") -> Entry | None:
    """The entry of a (Category, SubCategory) pair; None when UCS has no such pair."""
    return _by_name().get((category.upper(), subcategory.upper()))


def ref(cat_id: str) -> dict[str, str]:
    """``{"cat_id", "category", "subcategory"}`` of a real CatID; KeyError for anything else."""
    found = entry(cat_id)
    if found is None:
        raise KeyError(f"{cat_id!r} is not a UCS {UCS_VERSION} CatID")
    return found.ref()


@lru_cache(maxsize=1)
def categories() -> tuple[str, ...]:
    """The UCS Category names, in the list's order."""
    return tuple(dict.fromkeys(e.category for e in entries()))


def in_category(category: str) -> list[Entry]:
    """Every entry of one Category."""
    return [e for e in entries() if e.category == category]


# --------------------------------------------------------------------------- words

_TOKEN = re.compile(r"[A-Za-z]+|[0-9]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def tokens(text: str) -> list[str]:
    """Lower-case word tokens of a name or description (camelCase split, digits dropped)."""
    return [t.lower() for t in _TOKEN.findall(_CAMEL.sub(" ", text)) if not t.isdigit()]


#: Categories that file production material (mixes, loops, tests), not kinds of sound: words never name them.
NOT_SOUNDS = frozenset({"ARCHIVED"})
#: Where a word is found in an entry, and what it is worth there.
FIELD_WEIGHTS = {"category": 3.0, "subcategory": 2.0, "synonym": 1.0, "explanation": 0.5}
#: Words too common in the list's explanations to mean anything.
STOP_WORDS = frozenset(
    "a an and are as at be by for from in into is it its of on or see also the to with this that these not "
    "than such any all other others etc more less very use used can may only one two some sounds sound "
    "like just both type types kind kinds general misc miscellaneous".split())


@lru_cache(maxsize=1)
def word_index() -> dict[str, dict[str, float]]:
    """word -> {CatID: weight}: the best field each word appears in, per CatID. Each word is also filed
    under its stem (:func:`stem`), so "door" finds DOORS and "explosion" EXPLOSIONS."""
    index: dict[str, dict[str, float]] = {}

    def add(word: str, cat_id: str, weight: float) -> None:
        if word in STOP_WORDS or len(word) < 3:
            return
        for form in dict.fromkeys((word, stem(word))):
            slot = index.setdefault(form, {})
            slot[cat_id] = max(slot.get(cat_id, 0.0), weight)

    for e in entries():
        if e.category in NOT_SOUNDS:
            continue
        for w in tokens(e.category):
            add(w, e.cat_id, FIELD_WEIGHTS["category"])
        for w in tokens(e.subcategory):
            add(w, e.cat_id, FIELD_WEIGHTS["subcategory"])
        for syn in e.synonyms:
            for w in tokens(syn):
                add(w, e.cat_id, FIELD_WEIGHTS["synonym"])
        for w in tokens(e.explanations):
            add(w, e.cat_id, FIELD_WEIGHTS["explanation"])
    return index


def stem(word: str) -> str:
    """A crude plural/verb stem so "hammers", "hammering" and "hammer" meet."""
    for suffix in ("ing", "es", "s", "ed"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def word_hits(word: str) -> dict[str, float]:
    """{CatID: weight} for one word, trying the word itself, then its stem."""
    index = word_index()
    hits = dict(index.get(word) or {})
    s = stem(word)
    for form in (s, s + "e") if s != word else ():
        for cat_id, weight in (index.get(form) or {}).items():
            hits[cat_id] = max(hits.get(cat_id, 0.0), weight)
    return hits


def specificity(hits: dict[str, float]) -> float:
    """How much a word's hits are worth, 0..1 (the prompt applies it to every hit but a Category's own
    name): 1 for a word found in one Category, 1/sqrt(n) for one found in n ("wipers" names a vehicle
    part; "heavy" is found in artillery, industry, snoring and more, and names none of them)."""
    categories = {entry_category(c) for c in hits}
    return 1.0 / math.sqrt(max(1, len(categories)))


def entry_category(cat_id: str) -> str:
    """The Category of a CatID (the CatID itself when UCS has no such entry)."""
    found = entry(cat_id)
    return found.category if found is not None else cat_id


# --------------------------------------------------------------------------- materials


@dataclass(frozen=True)
class Material:
    """One material of the project's material vocabulary and the words that name it."""

    #: The canonical name events carry (``Event.material``).
    name: str
    #: The UCS CatID of an impact on it.
    impact: str
    #: The SubCategory word footsteps and doors on it get when a file name says so.
    ground: str
    #: Words that name the material itself ("steel").
    names: tuple[str, ...]
    #: Things usually made of it ("bottle"): they count only when no word names a material.
    objects: tuple[str, ...] = ()
    #: Other UCS Categories whose sounds are of this material (CHAINS are metal).
    also: tuple[str, ...] = ()

    @property
    def category(self) -> str:
        """The UCS Category of :attr:`impact`."""
        return ref(self.impact)["category"]

    @property
    def categories(self) -> tuple[str, ...]:
        """Every UCS Category whose sounds are of this material: :attr:`category`, then :attr:`also`."""
        return (self.category, *self.also)


def _material(name: str, impact: str, ground: str, names: str, objects: str = "",
              also: tuple[str, ...] = ()) -> Material:
    return Material(name, impact, ground, tuple(names.split()), tuple(objects.split()), also)


#: THE material table: every material word of prompts, file names, events and the synth resolves here.
#: A Category shared by two materials (DIRT & SAND) belongs to the first.
MATERIALS: tuple[Material, ...] = (
    _material("metal", "METLImpt", "METAL",
              "metal metals metallic steel iron tin aluminium aluminum brass copper", "anvil sheet",
              also=("CHAINS",)),
    _material("wood", "WOODImpt", "WOOD", "wood wooden timber lumber", "plank planks log logs board"),
    _material("glass", "GLASImpt", "GLASS", "glass", "bottle window"),
    _material("stone", "ROCKImpt", "STONE", "stone rock rocks concrete brick marble"),
    _material("plastic", "PLASImpt", "PLASTIC", "plastic"),
    _material("ceramic", "CERMImpt", "CERAMICS", "ceramic ceramics porcelain pottery", "plate"),
    _material("paper", "PAPRImpt", "PAPER", "paper cardboard"),
    _material("cloth", "CLOTHImpt", "CLOTH", "cloth fabric canvas clothes", "bag sack pillow"),
    _material("leather", "LETHRImpt", "LEATHER", "leather", "mitt mitts glove gloves"),
    _material("rubber", "RUBRImpt", "RUBBER", "rubber"),
    _material("water", "WATRImpt", "WATER", "water", "splash puddle", also=("LIQUID & MUD",)),
    _material("ice", "ICEImpt", "ICE", "ice"),
    _material("snow", "SNOWImpt", "SNOW", "snow"),
    _material("earth", "DIRTImpt", "DIRT & SAND", "dirt earth soil sand mud"),
    _material("gravel", "DIRTImpt", "GRAVEL", "gravel pebbles"),
    _material("skin", "FGHTImpt", "MISC", "skin flesh", "body"),
)
MATERIAL_NAMES: dict[str, Material] = {m.name: m for m in MATERIALS}
#: Material name -> the UCS CatID of an impact on it.
MATERIAL_IMPACTS: dict[str, str] = {m.name: m.impact for m in MATERIALS}
#: Every material word -> (its material, 0 when the word names the material, 1 when it names a thing).
MATERIAL_WORDS: dict[str, tuple[Material, int]] = {
    **{w: (m, 1) for m in MATERIALS for w in m.objects},
    **{w: (m, 0) for m in MATERIALS for w in m.names},
}


def material(word: str | None) -> Material | None:
    """The material a word names ("Steel" -> metal, "bottle" -> glass); None for any other word."""
    if not isinstance(word, str):
        return None
    found = MATERIAL_WORDS.get(word.strip().lower())
    return found[0] if found else None


def material_in(words: Iterable[str]) -> Material | None:
    """The material of a text's words: the first word that names a material, else the first thing
    usually made of one ("plate glass" -> glass, "plate" -> ceramic); None when there is none."""
    found = [MATERIAL_WORDS[w] for w in words if w in MATERIAL_WORDS]
    return min(found, key=lambda f: f[1])[0] if found else None


@lru_cache(maxsize=1)
def _category_materials() -> dict[str, str]:
    out: dict[str, str] = {}
    for m in MATERIALS:
        for category in m.categories:
            out.setdefault(category, m.name)
    return out


def category_material(category: str) -> str | None:
    """The material an impact in a UCS Category is on (METAL -> metal, CHAINS -> metal); None if none."""
    return _category_materials().get(category)


# --------------------------------------------------------------------------- file names

#: Keyword -> category, for names that are not UCS. Actions first, materials give the subcategory.
ACTION_WORDS: dict[str, str] = {
    **dict.fromkeys(["footstep", "footsteps", "step", "steps", "walk", "walking", "walks", "jog",
                     "stomp", "land", "landing", "foot", "feet", "shoe", "shoes"], "FOOTSTEPS"),
    **dict.fromkeys(["whoosh", "whooshes", "woosh", "passby", "flyby", "swing", "whip", "swipe",
                     "swoosh", "swooshes", "swish"], "SWOOSHES"),
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
    """(Category, SubCategory) of a CatID such as ``FEETHmn``; None when it is not one.

    Exact UCS CatIDs first. A code that starts with a real CatShort and goes on with a capitalised
    subcategory code that list does not have (``WHSHBy``, ``METLPipe``) keeps the Category, with the
    CatShort's own entry's SubCategory when the CatShort is itself a CatID (``WHSH`` -> WHOOSH), else MISC.
    """
    found = entry(cat_id)
    if found is not None:
        return found.category, found.subcategory
    shorts = _by_short()
    for short in sorted(shorts, key=len, reverse=True):
        if not cat_id.startswith(short):
            continue
        rest = cat_id[len(short):]
        if not rest or not rest[0].isupper() or (len(rest) > 1 and rest[1:].isupper()):
            continue
        rows = shorts[short]
        bare = entry(short)
        if bare is not None:
            return bare.category, bare.subcategory
        misc = next((e for e in rows if e.subcategory == "MISC"), rows[0])
        return misc.category, misc.subcategory
    return None


def keyword_category(text: str) -> tuple[str, str]:
    """(category, subcategory) from the words of a non-UCS name or description; ("", "") if none."""
    words = tokens(text)
    wordset = set(words)
    action = next((ACTION_WORDS[w] for w in words if w in ACTION_WORDS), "")
    if "room" in wordset and "tone" in wordset:
        action = "AMBIENCE"
    material = material_in(words)
    impact = bool(wordset & IMPACT_WORDS)
    if action in ("FOOTSTEPS", "DOORS"):
        return action, material.ground if material else "MISC"
    if action == "AMBIENCE":
        return action, "ROOM TONE" if ("room" in wordset and "tone" in wordset) or "roomtone" in wordset else "MISC"
    if action == "SWOOSHES":
        return action, "SWISH" if wordset & {"swish", "swing", "swipe", "whip"} else "WHOOSH"
    if action and action != "WEAPONS":
        return action, "MISC"
    if impact:
        if "fall" in wordset or "bodyfall" in wordset:
            return (material.category, "IMPACT") if material and material.name != "skin" else ("FIGHT", "BODYFALL")
        return (material.category, "IMPACT") if material else ("FOLEY", "PROP")
    if action:
        return action, "MISC"
    if material:
        return material.category, "MISC"
    return "", ""


def parse_name(filename: str) -> UCSName:
    """Parse a file name (with or without folder and extension)."""
    stem_ = filename.replace("\\", "/").rsplit("/", 1)[-1]
    if "." in stem_:
        stem_ = stem_.rsplit(".", 1)[0]
    parts = stem_.split("_")
    head = parts[0]
    cat_id, _, user_category = head.partition("-")
    found = lookup_catid(cat_id) if len(parts) >= 2 else None
    if found is not None:
        fx = parts[1].strip()
        return UCSName(cat_id=cat_id, category=found[0], subcategory=found[1], fx_name=fx,
                       creator_id=parts[2] if len(parts) > 2 else "",
                       source_id=parts[3] if len(parts) > 3 else "",
                       user_category=user_category, is_ucs=True)
    category, subcategory = keyword_category(stem_)
    return UCSName(cat_id="", category=category, subcategory=subcategory, fx_name=stem_)


# --------------------------------------------------------------------------- kinds

#: Event kind -> {category or "CATEGORY/SUBCATEGORY" or "*/SUBCATEGORY": fit 0..1}, from the kinds table.
KIND_FITS: dict[str, dict[str, float]] = {k.name: dict(k.fits) for k in KIND_TABLE}
#: A fit of at least this makes a file a candidate for the kind.
FIT_MIN = 0.5


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
