"""Understanding: recognition from the picture, per-object consistency, scenes and the prompt."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bridge
from bridge.errors import InputError
from bridge.event import Event
from bridge.options import Options
from models import prompt as prompts
from models import recognize, scene, ucs
from models.understand import cluster_events, majority_category, understand
from videos import MEDIA, Mover, drop
from videos import scene as make_scene

ROOT = Path(__file__).resolve().parents[1]
VIDEO = MEDIA / "video"


@pytest.fixture(scope="module")
def recognizer() -> recognize.Recognizer:
    return recognize.Recognizer()


@pytest.fixture(scope="module")
def drops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two objects, each dropped at its own place: left at 0.9 s, right at 1.7 s (each bounces)."""
    path = tmp_path_factory.mktemp("u") / "drops.mp4"
    make_scene(path, [Mover(drop(0.2, 0.1, 0.9), seed=1), Mover(drop(0.8, 0.9, 1.7), color=(40, 90, 230), seed=2)],
               seconds=3.0)
    return path


def _detect(path: Path):
    from models.detect import EventDetector
    from models.video import probe

    info = probe(str(path))
    return info, EventDetector().detect(info, 0.0, info.duration_s)


# --------------------------------------------------------------------------- the model and its tables

def test_class_names_and_cue_tables_are_consistent() -> None:
    names = recognize.class_names()
    assert len(names) == 1000
    assert (names[0], names[413], names[541], names[763], names[852]) == (
        "tench", "assault rifle", "drum", "revolver", "tennis ball")
    for table in (recognize.OBJECT_CUES, scene.CLASS_PLACES):
        for name, cue in table.items():
            assert name in names, name
            assert ucs.entry(cue.cat_id) is not None, cue
    for place in scene.PLACE_WORDS.values():
        assert ucs.entry(place.cat_id) is not None and place.room in ("outdoor", "small", "hall")


def test_recognizer_loads_bundled_weights_without_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("recognition tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    rec = recognize.Recognizer()
    probs = rec.classify([np.full((120, 200, 3), 128, np.uint8), np.zeros((64, 64, 3), np.uint8)])
    assert probs.shape == (2, 1000) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)


def test_crop_stays_inside_the_frame() -> None:
    frame = np.zeros((90, 160, 3), np.uint8)
    assert crop_shape(frame, 0.0, 0.0) == crop_shape(frame, 1.0, 1.0) == (54, 54)


def crop_shape(frame: np.ndarray, x: float, y: float) -> tuple[int, int]:
    return recognize.crop_around(frame, x, y, 0.6).shape[:2]


# --------------------------------------------------------------------------- objects within shots

def test_events_at_one_place_in_one_shot_are_one_object() -> None:
    shots = [(0.0, 2.0), (2.0, 4.0)]
    evs = [Event("impact", 0.2, 0.0, 0.9, x=0.2, y=0.8), Event("impact", 0.6, 0.0, 0.9, x=0.25, y=0.75),
           Event("impact", 0.9, 0.0, 0.9, x=0.8, y=0.8), Event("impact", 2.5, 0.0, 0.9, x=0.2, y=0.8),
           Event("footstep", 0.7, 0.0, 0.9, x=0.2, y=0.8), Event("ambience", 0.0, 2.0, 0.9)]
    groups = cluster_events(evs, shots)
    assert sorted(len(g.events) for g in groups) == [1, 1, 1, 2]
    assert all(g.kind != "ambience" for g in groups)


def test_generated_scene_each_object_keeps_one_category_and_weak_evidence_stays_generic(
        drops: Path, recognizer: recognize.Recognizer) -> None:
    info, det = _detect(drops)
    events = det.events
    understand(recognizer, info, events, det.shots)
    impacts = [e for e in events if e.kind == "impact"]
    assert impacts and all(e.ucs and ucs.entry(e.ucs["cat_id"]) for e in events)
    for g in cluster_events(impacts, det.shots):
        assert len({(e.ucs["cat_id"], e.material, e.label) for e in g.events}) == 1
    # Flat coloured shapes are no object the recognizer knows: a generic CatID with a low confidence.
    for e in impacts:
        if e.ucs["cat_id"] == "FOLYProp":
            assert e.evidence["confidence"] <= 0.3 and e.material is None
        assert 0.0 <= e.evidence["confidence"] <= 1.0 and "motion" in e.evidence
    amb = [e for e in events if e.kind == "ambience"]
    assert amb and amb[0].ucs["category"] in ucs.categories() and amb[0].scene["room"] in ("outdoor", "small", "hall")
    assert all(e.scene is not None for e in events)


@pytest.mark.parametrize("kind, cue, cat_id, label, material", [
    ("lamp_on", "light", "MECHSwtch", "light switch", "plastic"), ("fireball", "burst", "EXPLReal", "burst", None)])
def test_a_cue_that_names_its_sound(tmp_path: Path, recognizer: recognize.Recognizer, kind: str, cue: str,
                                    cat_id: str, label: str, material: str | None) -> None:
    """The light changing at once, a burst of fire: the cue says by itself what is heard, whatever the room
    shows (a light switch, an explosion)."""
    from scenes import encode, lit_frames

    rgb, k0 = lit_frames(kind, 25.0, seed=2)
    encode(tmp_path / "lit.mp4", rgb, 25.0)
    info, det = _detect(tmp_path / "lit.mp4")
    understand(recognizer, info, det.events, det.shots)
    event, = [e for e in det.events if e.kind == "impact"]
    assert event.extra["cue"] == cue and k0 is not None and abs(event.time_s * 25.0 - k0) <= 0.5
    assert event.ucs is not None and event.ucs["cat_id"] == cat_id and event.label == label
    assert event.material == material and event.evidence["cue_sound"] == cue


# --------------------------------------------------------------------------- the prompt

def test_prompt_words_find_ucs_categories_material_and_place() -> None:
    hints = prompts.parse("blacksmith hammering steel on an anvil, workshop")
    assert hints.material == "metal" and hints.place is not None and hints.place.label == "workshop"
    best = hints.best("impact")
    assert best is not None and ucs.entry(best[0]).category == "METAL"
    assert ucs.entry(prompts.parse("tennis rally, racket hits the ball").best("impact")[0]).category == "SPORTS"
    assert prompts.parse("waterfall in a forest").place.cat_id == "WATRFall"


def _category(text: str, kind_name: str) -> str | None:
    from models.understand import prompt_cat_id

    chosen = prompt_cat_id(prompts.parse(text), kind_name)
    return ucs.entry(chosen[0]).category if chosen is not None else None


def test_prompt_words_meet_ucs_names_in_any_number() -> None:
    # "door" is the DOORS Category (not a car's door SubCategory), "explosion" EXPLOSIONS.
    assert _category("door slam", "impact") == "DOORS"
    assert _category("explosion", "impact") == "EXPLOSIONS"
    assert _category("explosions", "impact") == "EXPLOSIONS"


def test_a_specific_word_steers_alone_and_a_vague_one_does_not() -> None:
    assert _category("windscreen wipers", "impact") == "VEHICLES"
    # "heavy" is found in artillery, industry, snoring and more: it names none of them.
    assert _category("heavy", "impact") is None
    assert _category("driving on a highway in heavy rain, wipers", "impact") == "VEHICLES"


def test_prompt_keeps_a_transient_a_transient_and_cartoons_need_naming() -> None:
    # A transient takes what a transient can be ("typewriter", "light switch"), never a bed or a whoosh.
    assert _category("old typewriter", "impact") == "COMMUNICATIONS"
    assert _category("light switch click", "impact") == "MECHANICAL"
    assert _category("car engine idling", "impact") is None
    assert _category("anvil", "impact") is None  # ucs lists anvils under CARTOON only; the material steers
    assert prompts.parse("anvil").material == "metal"
    assert _category("cartoon boing", "impact") == "CARTOON"
    # Among equal FOOTSTEPS entries, the human one.
    assert prompts.parse("footsteps on gravel").best("impact")[0] == "FEETHmn"


def test_prompt_skips_words_about_the_picture() -> None:
    from bridge.errors import InputError

    # "slow motion" is no user-interface movement, "camera" no shutter click: words about the shot.
    assert _category("slow motion, tennis ball bounce", "impact") == "SPORTS"
    assert _category("close-up, hand-held camera, door slam", "impact") == "DOORS"
    assert prompts.parse("slow motion, door slam").words["picture"] == ["slow", "motion"]
    with pytest.raises(InputError, match="hand-held camera"):
        prompts.parse("close-up, hand-held camera")
    assert _category("user interface click", "impact") == "USER INTERFACE"  # named, it is reached
    # The kinds table rates a sliding door low for a hit: the prompt does not force one on it.
    assert prompts.parse("sliding door").best("impact") is None or \
        prompts.parse("sliding door").best("impact")[0] != "DOORSlid"


def test_prompt_names_the_bed_when_it_names_no_place() -> None:
    assert _category("fire crackling", "ambience") == "FIRE"
    assert _category("busy city street", "ambience") == "AMBIENCE"  # the place word decides
    from models.understand import prompt_cat_id

    # A whoosh keeps to whooshes: the fire's own.
    assert prompt_cat_id(prompts.parse("fire crackling"), "whoosh")[0] == "FIREWhsh"


def test_prompt_benchmark_prompts_mostly_fit() -> None:
    """bench/prompts.py: fifty prompts an editor would type, each with the Categories that fit it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_prompts", ROOT / "bench" / "prompts.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    fits = [bench.pick(text, kind)[1] in cats for text, kind, cats in bench.PROMPTS]
    assert len(fits) == 50 and sum(fits) >= 45


def test_prompt_steers_events_it_fits_and_never_adds_any(drops: Path, recognizer: recognize.Recognizer) -> None:
    info, det = _detect(drops)
    plain = [Event(**{**e.__dict__}) for e in det.events]
    steered = [Event(**{**e.__dict__}) for e in det.events]
    understand(recognizer, info, plain, det.shots)
    understand(recognizer, info, steered, det.shots, prompts.parse("hammer on a metal plate, workshop"))
    assert len(steered) == len(det.events)
    hits = [e for e in steered if e.kind == "impact"]
    assert hits and all(e.ucs["category"] == "METAL" and e.material == "metal" for e in hits)
    assert all(e.evidence["prompt"]["text"] == "hammer on a metal plate, workshop" for e in hits)
    amb = [e for e in steered if e.kind == "ambience"]
    assert amb[0].ucs["cat_id"] == "AMBInd" and amb[0].scene == {"indoor": True, "label": "workshop", "room": "small"}
    assert majority_category(steered) == "METAL"


@pytest.mark.parametrize("bad", ["", "   ", "zzqx qwvb", "x" * 600])
def test_bad_prompts_name_the_value(bad: str) -> None:
    with pytest.raises(InputError, match="prompt"):
        Options.from_dict({"prompt": bad})
    with pytest.raises(InputError):
        Options.from_dict({"prompt": 42})


def test_cli_bad_prompt_exits_2_naming_it(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    proc = subprocess.run([sys.executable, "-m", "bridge", "run", str(video), "--prompt", "zzqx qwvb"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2 and "'zzqx qwvb'" in proc.stderr and proc.stderr.count("\n") == 1


def test_job_with_prompt_writes_understanding_and_track_list(drops: Path, tmp_path: Path) -> None:
    res = bridge.load(str(drops)).generate_foley(output_dir=tmp_path / "o", prompt="glass bottles dropped in a kitchen")
    doc = json.loads((tmp_path / "o" / "events.json").read_text())
    assert doc["options"]["prompt"] == "glass bottles dropped in a kitchen"
    impacts = [e for e in doc["events"] if e["kind"] == "impact"]
    assert impacts and all(e["ucs"]["category"] == "GLASS" and e["material"] == "glass" for e in impacts)
    tracks = json.loads((tmp_path / "o" / "result.json").read_text())["tracks"]
    assert tracks[0] == {"name": "Foley Impacts", "kind": "impact"} and len(tracks) == 4
    assert res.result["tracks"] == tracks


# --------------------------------------------------------------------------- real footage

CLIPS = {"foleycrafter_avsync_1.mp4": "GUNS", "maskvat_tennis_gt.mp4": "SPORTS",
         "foleycrafter_vggsound_0.mp4": "MUSICAL"}


@pytest.mark.media
@pytest.mark.parametrize("name, category", sorted(CLIPS.items()))
def test_real_clip_majority_category(name: str, category: str, recognizer: recognize.Recognizer) -> None:
    path = VIDEO / name
    if not path.exists():
        pytest.skip("shared real footage is absent")
    info, det = _detect(path)
    understand(recognizer, info, det.events, det.shots)
    assert majority_category(det.events) == category


def test_request_options_carry_the_prompt(tmp_path: Path) -> None:
    from bridge.request import parse_request

    video = str(tmp_path / "v.mp4")
    req = parse_request({"items": [{"path": video}], "options": {"prompt": "boots on gravel, forest"}})
    assert req.options.prompt == "boots on gravel, forest"
    with pytest.raises(InputError, match="'zzqx'"):
        parse_request({"items": [{"path": video}], "options": {"prompt": "zzqx"}})


def test_sky_tells_outdoors_from_a_room() -> None:
    sky = np.zeros((90, 160, 3), np.uint8)
    sky[:40] = (90, 150, 230)
    room = np.full((90, 160, 3), 60, np.uint8)
    assert scene.from_picture([sky])[0].room == "outdoor"
    assert scene.from_picture([room])[0] == scene.ROOM
    assert scene.from_picture([])[1] <= 0.2
