"""The editor's prompt ("blacksmith hammering steel on an anvil, workshop") read against UCS.

Plain word matching: each word (and its crude stem) is looked up in the UCS 8.2.1 Category and
SubCategory names, Synonyms and Explanations (:func:`models.ucs.word_hits`). Place words
(:data:`models.scene.PLACE_WORDS`) name the scene instead; material words (:data:`models.ucs.MATERIALS`)
name the material, a word naming a material before one naming a thing made of it. A
CatID's score is the sum over the prompt's words of the best field each word hits in it, plus a
bonus per extra word that agrees. A hit other than a Category's name counts by the word's specificity
(:func:`models.ucs.specificity`): a word found in one Category ("wipers") can steer on its own, one
found all over the list ("heavy") cannot. The prompt only steers events the detector found: it never
adds one, and it never turns a transient into a bed or a whoosh. Words about the picture ("hand-held
camera, slow motion": :data:`PICTURE_WORDS`) are skipped. Stylised Categories (cartoon,
designed, user interface) are reached only by naming them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from bridge.errors import InputError
from models import ucs
from models.scene import PLACE_WORDS, Place

MAX_PROMPT_CHARS = 500
#: A CatID needs at least this score to steer an event: one specific synonym, or a Category or
#: SubCategory name.
MIN_SCORE = 1.0
#: Bonus per word beyond the first that hits the same CatID.
AGREE_BONUS = 0.5
#: Words about the picture rather than the sound ("close-up, hand-held camera, slow motion"): skipped.
PICTURE_WORDS = frozenset(
    "camera cameras shot shots close closeup wide angle handheld hand held pov slow motion slowmo footage video "
    "clip frame scene pan panning zoom zooming tracking dolly cut cuts".split())
#: Categories of stylised rather than literal sounds: the prompt must name them ("cartoon boing",
#: "user interface click"); "slow motion" is no interface movement.
STYLISED = frozenset({"CARTOON", "DESIGNED", "USER INTERFACE"})


@lru_cache(maxsize=1)
def _cue_words() -> dict[str, dict[str, float]]:
    """The recognizer's object names as prompt words: (stemmed) word -> {CatID: 1 / number of CatIDs it names}."""
    from models.recognize import OBJECT_CUES

    named: dict[str, set[str]] = {}
    for name, cue in OBJECT_CUES.items():
        for word in ucs.tokens(name):
            if word not in ucs.STOP_WORDS and len(word) > 2:
                named.setdefault(ucs.stem(word), set()).add(cue.cat_id)
    return {w: {c: 1.0 / len(cats) for c in cats} for w, cats in named.items()}


@dataclass
class PromptHints:
    """What a prompt says: CatID scores, a material, a place, and the words that matched."""

    text: str
    scores: dict[str, float] = field(default_factory=dict)
    material: str | None = None
    place: Place | None = None
    words: dict[str, list[str]] = field(default_factory=dict)
    #: Categories the prompt names by their own name ("cartoon").
    named_categories: set[str] = field(default_factory=set)

    def best(self, kind_name: str) -> tuple[str, float] | None:
        """The best-scoring CatID for an event of ``kind_name``; None if none scores :data:`MIN_SCORE`.

        A transient (impact or footstep: the detector's shape does not tell them apart) takes any
        Category a transient may sound as, or any the kinds table does not rate for transients that is
        neither a bed nor a whoosh ("typewriter", "light switch"); one it rates low (a sliding door, a
        creak) stays out. Other kinds take Categories that fit them. Ranked by score, then by the fit
        to the event's own kind and the material's agreement; among equals, the kind's own generic CatID,
        then any kind's (footsteps on gravel are FEETHmn, not another FOOTSTEPS SubCategory)."""
        from bridge.kinds import KIND_TABLE, kind

        own = kind(kind_name)
        transients = [k.name for k in KIND_TABLE if k.transient]
        generic = {k.cat_id for k in KIND_TABLE}
        ranked = []
        for cat_id, score in self.scores.items():
            entry = ucs.entry(cat_id)
            if entry is None or score < MIN_SCORE:
                continue
            if entry.category in STYLISED and entry.category not in self.named_categories:
                continue
            fit = ucs.kind_fit(entry.category, entry.subcategory, kind_name)
            if own.transient:
                family = max(ucs.kind_fit(entry.category, entry.subcategory, n) for n in transients)
                other = max(ucs.kind_fit(entry.category, entry.subcategory, k.name)
                            for k in KIND_TABLE if not k.transient)
                allowed = family >= ucs.FIT_MIN or (family == 0.0 and other < ucs.FIT_MIN)
            else:
                allowed = fit >= ucs.FIT_MIN
            if allowed:
                ranked.append((score + 0.5 * fit + (0.5 if self._material_agrees(entry) else 0.0),
                               cat_id == own.cat_id, cat_id in generic, cat_id))
        if not ranked:
            return None
        *_, cat_id = max(ranked)
        return cat_id, self.scores[cat_id]

    def _material_agrees(self, entry: ucs.Entry | None) -> bool:
        named = ucs.MATERIAL_NAMES.get(self.material or "")
        return entry is not None and named is not None and entry.category in named.categories

    def evidence(self) -> dict[str, Any]:
        return {"text": self.text, "words": self.words}


def parse(text: str) -> PromptHints:
    """Read a prompt. Raises InputError naming the prompt when it is not text, too long, or has no word
    the vocabulary knows."""
    if not isinstance(text, str):
        raise InputError(f"prompt {text!r:.80} must be text describing the shot")
    if not text.strip():
        raise InputError(f"prompt {text!r} is empty; describe the action, material or place, "
                         "e.g. 'hammer on a metal plate, workshop'")
    if len(text) > MAX_PROMPT_CHARS:
        raise InputError(f"prompt {text[:40]!r}... is {len(text)} characters; keep it under {MAX_PROMPT_CHARS}")
    hints = PromptHints(text=text)
    hits: dict[str, dict[str, float]] = {}
    for word in dict.fromkeys(ucs.tokens(text)):
        if word in PICTURE_WORDS:
            hints.words.setdefault("picture", []).append(word)
            continue
        if word in PLACE_WORDS:
            if hints.place is None:
                hints.place = PLACE_WORDS[word]
            hints.words.setdefault("place", []).append(word)
            continue
        if ucs.material(word) is not None:
            hints.words.setdefault("material", []).append(word)
        found = ucs.word_hits(word)
        weight_of = ucs.specificity(found)
        for cat_id, weight in found.items():
            if weight >= ucs.FIELD_WEIGHTS["category"]:
                hints.named_categories.add(ucs.entry_category(cat_id))
            else:
                found[cat_id] = weight * weight_of
        for cat_id, weight in _cue_words().get(ucs.stem(word), {}).items():
            found[cat_id] = found.get(cat_id, 0.0) + weight
        if found:
            hits[word] = found
            hints.words.setdefault("ucs", []).append(word)
    named = ucs.material_in(hints.words.get("material", ()))
    hints.material = named.name if named is not None else None
    for found in hits.values():
        for cat_id, weight in found.items():
            hints.scores[cat_id] = hints.scores.get(cat_id, 0.0) + weight
    for cat_id in hints.scores:
        agreeing = sum(1 for found in hits.values() if cat_id in found)
        hints.scores[cat_id] += AGREE_BONUS * max(0, agreeing - 1)
    if not hints.scores and hints.place is None and hints.material is None:
        raise InputError(f"prompt {text!r:.80} has no word the sound vocabulary (UCS) knows; describe the action, "
                         "material or place, e.g. 'hammer on a metal plate, workshop'")
    return hints
