"""Prompt benchmark: does a one-line prompt an editor would type steer an event to a fitting UCS Category?

Each prompt below comes with the kind of event it would steer (a transient, a whoosh or an ambience bed)
and the Categories that fit it. The prompt is read (models.prompt.parse) and asked for its best CatID for
that kind, as a job does (models.understand.prompt_cat_id); a prompt that steers nothing, or steers to a Category not
listed, is a miss. Prints each prompt's pick and the count of fits.

    .venv/bin/python bench/prompts.py [--misses]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: (prompt, event kind, Categories that fit). Written as an editor would type them, across UCS.
PROMPTS: tuple[tuple[str, str, frozenset[str]], ...] = tuple(
    (text, kind, frozenset(c.strip() for c in cats.split(","))) for text, kind, cats in (
        ("door slam", "impact", "DOORS"),
        ("heavy wooden door closing", "impact", "DOORS"),
        ("car door slam", "impact", "VEHICLES, DOORS"),
        ("windscreen wipers", "impact", "VEHICLES"),
        ("footsteps on gravel", "footstep", "FOOTSTEPS"),
        ("woman in high heels walking on marble", "footstep", "FOOTSTEPS"),
        ("soft footsteps on carpet", "footstep", "FOOTSTEPS"),
        ("horse hooves on cobblestones", "footstep", "FOOTSTEPS, ANIMALS"),
        ("blacksmith hammering on an anvil", "impact", "METAL, TOOLS"),
        ("hammering a nail into wood", "impact", "TOOLS, WOOD, METAL"),
        ("metal pipe dropped on concrete", "impact", "METAL"),
        ("glass shatters on the floor", "impact", "GLASS"),
        ("wine glasses clinking", "impact", "GLASS"),
        ("cup set down on a saucer", "impact", "CERAMICS, FOOD & DRINK"),
        ("punching bag", "impact", "FIGHT"),
        ("punch to the face", "impact", "FIGHT"),
        ("body falls to the ground", "impact", "FIGHT, FOLEY"),
        ("bones breaking", "impact", "GORE, FIGHT"),
        ("pistol shots", "impact", "GUNS"),
        ("shotgun blast", "impact", "GUNS"),
        ("reloading a rifle", "impact", "GUNS"),
        ("sword clash", "impact", "WEAPONS"),
        ("knife chopping carrots", "impact", "FOOD & DRINK"),
        ("typing on a computer keyboard", "impact", "COMPUTERS"),
        ("old typewriter", "impact", "COMMUNICATIONS, MACHINES, OBJECTS"),
        ("paper rustling", "impact", "PAPER"),
        ("turning the pages of a book", "impact", "PAPER, OBJECTS"),
        ("keys jingling", "impact", "OBJECTS"),
        ("coins dropped on a table", "impact", "OBJECTS"),
        ("light switch click", "impact", "MECHANICAL, ELECTRICITY"),
        ("drum hits", "impact", "MUSICAL"),
        ("tennis ball hit with a racket", "impact", "SPORTS"),
        ("basketball bouncing on a court", "impact", "SPORTS"),
        ("rocks falling", "impact", "ROCKS"),
        ("wooden crate breaking", "impact", "WOOD, DESTRUCTION"),
        ("plastic bottle crushed", "impact", "PLASTIC"),
        ("chains rattling", "impact", "CHAINS"),
        ("leather jacket creak", "impact", "LEATHER, CLOTH"),
        ("zipper on a bag", "impact", "CLOTH, OBJECTS"),
        ("water splash", "impact", "WATER"),
        ("explosion", "impact", "EXPLOSIONS"),
        ("fireworks", "impact", "FIREWORKS"),
        ("sword swing", "whoosh", "SWOOSHES, WEAPONS"),
        ("fast whoosh past the camera", "whoosh", "SWOOSHES"),
        ("fire crackling", "ambience", "FIRE"),
        ("wind howling", "ambience", "WIND, WEATHER"),
        ("heavy rain on a roof", "ambience", "RAIN"),
        ("crowd cheering in a stadium", "ambience", "CROWDS"),
        ("birds singing in a forest", "ambience", "BIRDS, AMBIENCE"),
        ("busy city street", "ambience", "AMBIENCE"),
    ))


def pick(text: str, kind: str) -> tuple[str | None, str | None]:
    """(CatID, Category) the prompt gives an event of ``kind``, or (None, None)."""
    from models import ucs
    from models.prompt import parse
    from models.understand import prompt_cat_id

    chosen = prompt_cat_id(parse(text), kind)
    entry = ucs.entry(chosen[0]) if chosen is not None else None
    return (chosen[0], entry.category) if chosen is not None and entry is not None else (None, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="print only the prompts that miss")
    args = parser.parse_args(argv)
    fits = 0
    for text, kind, cats in PROMPTS:
        cat_id, category = pick(text, kind)
        ok = category in cats
        fits += ok
        if not ok or not args.misses:
            got = f"{cat_id or '-':10s} {category or '(no steer)':16s}"
            print(f"{'ok  ' if ok else 'MISS'} {text[:44]:44s} {kind:9s} -> {got}"
                  + ("" if ok else f"  wants {', '.join(sorted(cats))}"))
    print(f"{fits} of {len(PROMPTS)} prompts steer to a fitting Category ({100 * fits / len(PROMPTS):.0f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
