"""Understanding benchmark on real footage: does each clip's majority UCS Category fit what happens on screen?

For every clip in ../shared/media/video/ (picture only: the detector and the recognizer read video frames,
never the soundtrack): detect events, understand them with no prompt and with a one-line prompt an editor
would type, and take the majority UCS Category of the transient events (the ambience's when there is none).
A clip counts as a fit when that Category is one of those listed for it below (what the footage shows, from
../shared/media/MANIFEST.md). As in a job, the detector's decoding pass also fills the span's colour frame
store, which the understanding reads (no second decoding). Times: a plain decode, detection (with the store
filled), the look at a few frames (which runs beside detection in a job) and the understanding after
detection.

    .venv/bin/python bench/understanding.py [--verbose]
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media" / "video"

#: clip stem -> (Categories that fit what is on screen, the prompt an editor would type).
CLIPS: dict[str, tuple[set[str], str]] = {
    "condfoleygen_chopping": ({"FOOD & DRINK", "WOOD"}, "chopping vegetables with a knife on a wooden board"),
    "condfoleygen_hitting_bag": ({"CLOTH", "FIGHT", "LEATHER", "OBJECTS"}, "hitting a canvas bag with a drumstick"),
    "condfoleygen_tennis_silent": ({"SPORTS", "RUBBER"}, "tennis ball bouncing on a court, slow motion"),
    "foleycrafter_avsync_1": ({"GUNS"}, "cap gun shots"),
    "foleycrafter_vggsound_0": ({"MUSICAL"}, "man playing conga drums with his hands"),
    "maskvat_tennis_gt": ({"SPORTS", "RUBBER"}, "tennis rally, racket hits the ball"),
    "seeinghearing_0VHVqjGXmBM_000030": ({"RAIN", "VEHICLES", "WEATHER"},
                                         "driving on a highway in heavy rain, wipers"),
    "specvqgan_vas_videos_fireworks_video_02997": ({"FIREWORKS", "EXPLOSIONS"}, "fireworks bursting in the night sky"),
    "specvqgan_vas_videos_fireworks_video_03051": ({"FIREWORKS", "EXPLOSIONS"}, "fireworks display at night"),
    "specvqgan_vas_videos_hammer_video_00323": ({"METAL", "TOOLS"}, "hammering a metal plate"),
    "specvqgan_vggsound_video_-1pRmoJIGQc_10000_20000": ({"VEHICLES", "MOTORS"},
                                                        "car engine idling under the open hood"),
    "woosh_foleybench_01001_06_gt": ({"FIGHT", "LEATHER"}, "boxer punching focus mitts in a gym"),
    "woosh_foleybench_02900_07_gt": ({"GUNS"}, "pistol shots at an outdoor shooting range"),
    "woosh_foleybench_04683_03_gt": ({"FOOTSTEPS"}, "two people walking down a basement corridor, footsteps"),
}

#: clip stem -> the materials of what is struck or steps on screen (None: no material applies, as with
#: fireworks or an idling engine). Scored on the majority material of the clip's transient events.
MATERIALS_FIT: dict[str, set[str] | None] = {
    "condfoleygen_chopping": {"wood"},                      # knife on a wooden board
    "condfoleygen_hitting_bag": {"cloth", "leather"},
    "condfoleygen_tennis_silent": {"rubber"},
    "foleycrafter_avsync_1": {"metal", "plastic"},
    "foleycrafter_vggsound_0": {"skin"},
    "maskvat_tennis_gt": {"rubber"},
    "seeinghearing_0VHVqjGXmBM_000030": {"rubber", "glass", "water"},
    "specvqgan_vas_videos_fireworks_video_02997": None,
    "specvqgan_vas_videos_fireworks_video_03051": None,
    "specvqgan_vas_videos_hammer_video_00323": {"metal"},
    "specvqgan_vggsound_video_-1pRmoJIGQc_10000_20000": None,
    "woosh_foleybench_01001_06_gt": {"leather", "skin"},
    "woosh_foleybench_02900_07_gt": {"metal"},
    "woosh_foleybench_04683_03_gt": {"stone"},             # shoes on a concrete floor
}


def majority_material(events) -> str | None:
    """The most common material of the transient events (None counts: an unknown material is a vote)."""
    from bridge.kinds import kind

    mats = [e.material for e in events if kind(e.kind).transient]
    return max(dict.fromkeys(mats), key=mats.count) if mats else None


def _mark(material: str | None, want: set[str] | None) -> str:
    return "-" if want is None else f"{material or 'none'}{'+' if material in want else 'x'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print each event's category and evidence")
    args = parser.parse_args(argv)
    if not MEDIA.is_dir():
        print(f"no media folder at {MEDIA}; nothing to measure")
        return 0
    from models.detect import WIDTHS, EventDetector
    from models.prompt import parse
    from models.recognize import Recognizer
    from models.understand import frame_store, look, majority_category, understand
    from models.video import iter_gray_frames, keeping, probe

    detector = EventDetector()
    recognizer = Recognizer()
    t0 = time.perf_counter()
    recognizer.load()
    print(f"recognizer load {time.perf_counter() - t0:.2f} s")
    fits = {"none": 0, "prompt": 0, "material": 0, "material_prompt": 0, "material_rows": 0}
    rows = 0
    print(f"{'clip':44s} {'events':>6s}  {'no prompt':16s} {'fit':3s}  {'with prompt':16s} {'fit':3s} "
          f"{'material':>8s} {'w/prompt':>8s} {'decode':>6s} {'detect':>6s} {'look':>5s} {'after':>5s} {'kept':>4s} "
          f"{'MB':>5s}")
    for path in sorted(MEDIA.glob("*.mp4")):
        if path.stem not in CLIPS:
            continue
        expected, prompt_text = CLIPS[path.stem]
        info = probe(str(path))
        t0 = time.perf_counter()
        for _ in iter_gray_frames(info, 0.0, info.duration_s, width=WIDTHS["normal"]):
            pass
        decode_s = time.perf_counter() - t0
        store = frame_store(info, 0.0, info.duration_s)
        with keeping(store):
            det = detector.detect(info, 0.0, info.duration_s)
        detect_s = time.perf_counter() - t0 - decode_s
        t1 = time.perf_counter()
        seen = look(recognizer, info, 0.0, info.duration_s, store)  # in a job this runs beside detection
        look_s = time.perf_counter() - t1
        plain = copy.deepcopy(det.events)
        t1 = time.perf_counter()
        understand(recognizer, info, plain, det.shots, seen=seen, store=store)
        understand_s = time.perf_counter() - t1
        steered = copy.deepcopy(det.events)
        understand(recognizer, info, steered, det.shots, parse(prompt_text), seen=seen, store=store)
        a, b = majority_category(plain) or "-", majority_category(steered) or "-"
        fa, fb = a in expected, b in expected
        fits["none"] += fa
        fits["prompt"] += fb
        rows += 1
        want = MATERIALS_FIT.get(path.stem)
        ma, mb = majority_material(plain), majority_material(steered)
        if want is not None:
            fits["material_rows"] += 1
            fits["material"] += ma in want
            fits["material_prompt"] += mb in want
        print(f"{path.stem[:44]:44s} {len(det.events):6d}  {a[:16]:16s} {'yes' if fa else 'no':3s}  "
              f"{b[:16]:16s} {'yes' if fb else 'no':3s} {_mark(ma, want)[:8]:>8s} {_mark(mb, want)[:8]:>8s} "
              f"{decode_s:6.2f} {detect_s:6.2f} {look_s:5.2f} {understand_s:5.2f} {len(store):4d} "
              f"{store.nbytes / 1e6:5.2f}")
        if args.verbose:
            for ev in plain:
                print(f"    {ev.kind:8s} {ev.time_s:6.2f} {ev.ucs} {ev.label!r} {ev.material} {ev.evidence}")
    print(f"fits: {fits['none']}/{rows} with no prompt, {fits['prompt']}/{rows} with a prompt")
    m = fits["material_rows"]
    print(f"material (majority of the transients, clips where one applies): {fits['material']}/{m} with no "
          f"prompt, {fits['material_prompt']}/{m} with a prompt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
