"""The UCS 8.2.1 vocabulary shipped in the package."""
from __future__ import annotations

import json
from pathlib import Path

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
    for cat in ucs.CATEGORY_MATERIALS:
        assert cat in ucs.categories()
    for cat in set(ucs.ACTION_WORDS.values()) | {m[0] for m in ucs.MATERIAL_WORDS.values()}:
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
