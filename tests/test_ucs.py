"""The UCS 8.2.1 vocabulary shipped in the package."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from models import ucs

SHARED_UCS = Path(__file__).resolve().parents[2] / "shared" / "ucs" / "ucs_v8.2.1_en.json"


def test_whole_list_loads_from_package_data() -> None:
    assert len(ucs.entries()) == 752
    assert len(ucs.categories()) == 82
    metal = ucs.entry("METLImpt")
    assert metal is not None and (metal.category, metal.subcategory, metal.cat_short) == ("METAL", "IMPACT", "METL")
    assert "AMBIENCE" in ucs.categories() and "IMPACTS" not in ucs.categories()
    assert ucs.ref("GUNPis") == {"cat_id": "GUNPis", "category": "GUNS", "subcategory": "PISTOL"}
    assert ucs.find("water", "waterfall").cat_id == "WATRFall"


def test_package_copy_is_the_published_list() -> None:
    if not SHARED_UCS.exists():
        return
    shipped = {e.cat_id for e in ucs.entries()}
    assert shipped == {r["CatID"] for r in json.loads(SHARED_UCS.read_text(encoding="utf-8"))}


def test_hand_written_tables_name_only_real_catids_and_categories() -> None:
    from bridge.kinds import KIND_TABLE

    for k in KIND_TABLE:
        assert ucs.entry(k.cat_id) is not None, k
        for key in k.fits:
            cat, _, sub = key.partition("/")
            if cat != "*":
                assert cat in ucs.categories(), key
            if sub:
                assert any(e.subcategory == sub for e in ucs.entries()), key
    for cat_id in ucs.MATERIAL_IMPACTS.values():
        assert ucs.entry(cat_id) is not None
    for m in ucs.MATERIALS:
        for cat in m.also:
            assert cat in ucs.categories(), (m.name, cat)
    for cat in set(ucs.ACTION_WORDS.values()) | {m.category for m in ucs.MATERIALS}:
        assert cat in ucs.categories(), cat


def test_catids_outside_the_list_keep_their_category_only_when_the_prefix_is_real() -> None:
    assert ucs.lookup_catid("FEETHmn") == ("FOOTSTEPS", "HUMAN")
    assert ucs.lookup_catid("WHSH") == ("SWOOSHES", "WHOOSH")
    assert ucs.lookup_catid("WHSHBy") == ("SWOOSHES", "WHOOSH")
    assert ucs.lookup_catid("METLPipe") == ("METAL", "MISC")
    assert ucs.lookup_catid("IMPTMisc") is None
    assert ucs.lookup_catid("Hello") is None
    # Keyword names never produce a category UCS does not have.
    for name in ("hit.wav", "bodyfall.wav", "whoosh.wav", "punch_heavy.wav"):
        category = ucs.parse_name(name).category
        assert category in ucs.categories(), (name, category)


def test_words_find_catids_by_synonym_and_stem() -> None:
    assert "TOOLHand" in ucs.word_hits("hammering")
    assert "GUNPis" in ucs.word_hits("revolver")
    assert ucs.word_hits("waterfall")["WATRFall"] >= 1.0
    assert ucs.word_hits("the") == {}


# --------------------------------------------------------------------------- materials

def test_every_material_word_resolves_through_the_one_table() -> None:
    words = [w for m in ucs.MATERIALS for w in (*m.names, *m.objects)]
    assert len(words) == len(set(words)) == len(ucs.MATERIAL_WORDS), "a word names two materials"
    for m in ucs.MATERIALS:
        assert m.name in m.names, m.name  # the canonical name is itself a material word
        for w in (*m.names, *m.objects):
            assert ucs.material(w) is m and ucs.material(w.upper() + " ") is m, w
    assert ucs.material("jelly") is None and ucs.material(None) is None
    assert ucs.material("soft") is None  # an adjective, not a material


def test_every_material_has_an_impact_category_and_a_synth_preset() -> None:
    from bridge.event import Event
    from models import synth

    assert set(synth.MATERIAL_PRESETS) == set(ucs.MATERIAL_NAMES)
    for m in ucs.MATERIALS:
        found = ucs.entry(m.impact)
        assert found is not None and found.subcategory == "IMPACT", m
        assert ucs.category_material(m.category) in (m.name, "earth"), m  # gravel shares DIRT & SAND
        assert synth.MATERIAL_PRESETS[m.name] in synth.MATERIALS, m
    # the synth's own preset names are material words that play themselves
    for preset in synth.MATERIALS:
        assert synth.preset_for(preset) == preset
    assert ucs.category_material("CHAINS") == "metal" and ucs.category_material("AMBIENCE") is None
    # footsteps walk on the surface of their material where the synth has one, else on the job's ground
    assert set(synth.MATERIAL_SURFACES) <= set(ucs.MATERIAL_NAMES)
    assert set(synth.MATERIAL_SURFACES.values()) <= set(synth.SURFACES)
    assert synth.pick_surface(Event("footstep", 1.0, 0.1, 0.9, material="pebbles"), 0) == "gravel"
    assert synth.pick_surface(Event("footstep", 1.0, 0.1, 0.9, material="concrete"), 0) == "concrete"
    assert synth.pick_surface(Event("footstep", 1.0, 0.1, 0.9, material="glass"), 3) == \
        synth.pick_surface(Event("footstep", 1.0, 0.1, 0.9), 3)


@pytest.mark.parametrize("word", sorted(ucs.MATERIAL_WORDS))
def test_prompt_recorded_file_names_and_synth_agree_on_a_word(word: str) -> None:
    from bridge.event import Event
    from models import prompt, recorded, synth

    m = ucs.material(word)
    assert m is not None
    assert prompt.parse(f"a hit on {word}").material == m.name
    assert recorded.target_ucs(Event("impact", 1.0, 0.1, 0.9, material=word))["cat_id"] == m.impact
    assert synth.pick_material(Event("impact", 1.0, 0.1, 0.9, extra={"material": word}), 0) == \
        synth.MATERIAL_PRESETS[m.name]
    assert synth.pick_material(Event("impact", 1.0, 0.1, 0.9, material=word), 0) == synth.MATERIAL_PRESETS[m.name]
    named = ucs.parse_name(f"{word} hit.wav")
    assert (named.category, named.subcategory) == (m.category, "IMPACT")
    assert ucs.parse_name(f"{word} footsteps.wav").subcategory == m.ground


def test_a_word_naming_the_material_beats_a_thing_made_of_it() -> None:
    from models import prompt

    assert ucs.material_in(["plate", "glass"]).name == "glass"
    assert ucs.material_in(["plate"]).name == "ceramic"
    assert ucs.parse_name("Plate Glass Break.wav").category == "GLASS"
    assert prompt.parse("hammer on a plate of steel").material == "metal"
    assert prompt.parse("hammer on a plate").material == "ceramic"
    assert ucs.parse_name("Body Fall.wav").subcategory == "BODYFALL"


def test_a_prompt_material_favours_the_categories_of_that_material() -> None:
    from models import prompt

    for text, category in (("gravel", "DIRT & SAND"), ("dirt", "DIRT & SAND"), ("chain of steel", "CHAINS"),
                           ("a bottle", "GLASS")):
        hints = prompt.parse(f"hit on {text}")
        entry = ucs.in_category(category)[0]
        assert hints._material_agrees(entry), text
        assert not hints._material_agrees(ucs.in_category("WOOD")[0]), text
