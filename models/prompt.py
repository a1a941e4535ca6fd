"""The editor's prompt ("blacksmith hammering steel on an anvil, workshop") read against UCS.

Plain word matching: each word (and its crude stem) is looked up in the UCS 8.2.1 Category and
SubCategory names, Synonyms and Explanations (:func:`models.ucs.word_hits`). Place words
(:data:`models.scene.PLACE_WORDS`) name the scene instead; material words (:data:`models.ucs.MATERIALS`)
name the material, a word naming a material before one naming a thing made of it. A
CatID's score is the sum over the prompt's words of the best field each word hits in it, plus a
bonus per extra word that agrees. The prompt only steers events the detector found: it never adds one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from bridge.errors import InputError
from models import ucs
from models.scene import PLACE_WORDS, Place

MAX_PROMPT_CHARS = 500
#: A CatID needs at least this score to steer an event.
MIN_SCORE = 1.5
#: Bonus per word beyond the first that hits the same CatID.
AGREE_BONUS = 0.5
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

    def best(self, fits: Any) -> tuple[str, float] | None:
        """The best-scoring CatID for which ``fits(entry) >= 0.5`` (ties: the better fit); None if none
        scores :data:`MIN_SCORE`."""
        ranked = []
        for cat_id, score in self.scores.items():
            entry = ucs.entry(cat_id)
            fit = fits(entry) if entry is not None else 0.0
            if fit >= ucs.FIT_MIN and score >= MIN_SCORE:
                ranked.append((score + 0.5 * fit + (0.5 if self._material_agrees(entry) else 0.0), cat_id))
        if not ranked:
            return None
        total, cat_id = max(ranked)
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
        if word in PLACE_WORDS:
            if hints.place is None:
                hints.place = PLACE_WORDS[word]
            hints.words.setdefault("place", []).append(word)
            continue
        if ucs.material(word) is not None:
            hints.words.setdefault("material", []).append(word)
        found = dict(ucs.word_hits(word))
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
