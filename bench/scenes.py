"""Timing on synthetic scenes with known contacts (tests/scenes.py: simulated bounces, pans, shake, swipes,
cuts, 24/25/29.97/60 fps) and false transients on scenes where nothing makes a sound.

For each of ``--count`` varied scenes: impacts matched one-to-one to the true contacts within one frame
(F1; also counting only those placed within CONTACT_NEAR of the contact), the impacts found at a cut
(within two frames) or during a bar's swipe away from any true contact, and the whooshes per swipe and
those away from any swipe. Then transients (impacts and footsteps) per 10 s, and
whooshes, on water, foliage, a slow pan, hand-held shake, a crowd and a windscreen wiper's blade stroking to
and fro. Last, scenes where the light changes (a lamp or a room's light switched, lightning, a photographer's
flash, a fireball, a firework, and an exposure opening slowly that makes no sound), steady and hand-held, at
25, 29.97 and 60 fps: the change found within one frame, other events, and cuts.

    .venv/bin/python bench/scenes.py [--count 16] [--seed 0] [--shutter 0.5] [--size 270x480]
                                     [--fps 60] [--shake 0] [--precision high] [--verbose]

``--size`` renders every scene at another width x height (a portrait phone picture, 4:3 video): the same
draws, the balls' lanes sharing that frame's width (sizes and heights are in frame heights). ``--fps`` renders
every scene, and the quiet ones, at one frame rate; ``--shake`` gives every scene that hand-held shake
(0: a steady camera throughout), so a rate and a camera can be measured apart.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def contacts(det) -> list[float]:
    return sorted(e.time_s for e in det.events if e.kind in ("impact", "footstep"))


def placed_matches(det, truth, tol: float) -> int:
    """Contacts matched one-to-one (nearest in time first) to an impact within ``tol`` and within
    CONTACT_NEAR of the frame of it: found at the right moment and in the right place. Matching by time
    alone takes a stop of one ball for another's landing in the same frame interval."""
    from models.detect import CONTACT_NEAR

    found = [e for e in det.events if e.kind in ("impact", "footstep")]
    pairs = sorted((abs(e.time_s - t), i, j) for i, e in enumerate(found) for j, (t, x, y) in enumerate(truth.impacts)
                   if abs(e.time_s - t) <= tol and float(np.hypot(e.x - x, e.y - y)) <= CONTACT_NEAR)
    used_e: set[int] = set()
    used_t: set[int] = set()
    for _, i, j in pairs:
        if i not in used_e and j not in used_t:
            used_e.add(i)
            used_t.add(j)
    return len(used_e)


def score_world(det, truth) -> dict:
    from models.onset_eval import match

    tol = 1.0 / truth.fps + 1e-6
    true = [t for t, _, _ in truth.impacts]
    vis = contacts(det)
    tp = len(match(np.asarray(vis), np.asarray(true), tol))
    tp_placed = placed_matches(det, truth, tol)
    # Contacts less than a frame interval apart (two balls landing together) fall in one interval: a
    # frame-based detector, and the ear, get one onset from them. Counted once in the "heard" score.
    heard: list[float] = []
    for t in sorted(true):
        if heard and t - heard[-1] < 1.0 / truth.fps:
            continue
        heard.append(t)
    tp_heard = len(match(np.asarray(vis), np.asarray(heard), tol))
    at_cut = [t for t in vis for c in truth.cuts if abs(t - c) <= 2.0 / truth.fps]
    on_swipe = [t for t in vis for a, b in truth.swipes
                if a <= t <= b and all(abs(t - s) > tol for s in true)]
    whooshes = [e for e in det.events if e.kind == "whoosh"]
    per_swipe = [sum(1 for e in whooshes if e.time_s < b and e.time_s + e.duration_s > a) for a, b in truth.swipes]
    stray = [e for e in whooshes if not any(e.time_s < b and e.time_s + e.duration_s > a for a, b in truth.swipes)]
    return {"tp": tp, "tp_placed": tp_placed, "n_true": len(true), "n_vis": len(vis), "tp_heard": tp_heard,
            "n_heard": len(heard),
            "at_cut": at_cut, "on_swipe": on_swipe,
            "whooshes_per_swipe": per_swipe, "stray_whooshes": len(stray), "vis": vis, "true": true}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="normal", choices=("normal", "high"))
    parser.add_argument("--shutter", type=float, default=0.0,
                        help="shutter open for this fraction of each frame interval (0.5: 180 degrees): motion blur")
    parser.add_argument("--size", default=None, metavar="WxH",
                        help="render the scenes at this width x height instead of 480x270")
    parser.add_argument("--fps", type=float, default=None,
                        help="render every scene (and the quiet ones) at this frame rate instead of their own")
    parser.add_argument("--shake", type=float, default=None,
                        help="hand-held shake of every scene, in frame widths (0: steady), instead of their own")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.fps is not None and not 1.0 <= args.fps <= 1000.0:
        parser.error(f"--fps {args.fps}: give a frame rate from 1 to 1000")
    if args.shake is not None and not 0.0 <= args.shake <= 0.1:
        parser.error(f"--shake {args.shake}: give 0 (steady) to 0.1 frame widths")
    size = (480, 270)
    if args.size is not None:
        try:
            size = tuple(int(v) for v in args.size.lower().split("x"))
            if len(size) != 2 or min(size) < 64 or any(v % 2 for v in size):
                raise ValueError
        except ValueError:
            parser.error(f"--size {args.size!r}: give an even width x height of 64 px or more, e.g. 270x480")
    import scenes
    from models.detect import CONTACT_NEAR, EventDetector
    from models.video import probe

    detector = EventDetector(precision=args.precision)
    tp = n_true = n_vis = tp_heard = n_heard = tp_placed = 0
    by: dict[str, list[int]] = {}   # contacts found / true per camera and per frame rate
    bad = stray = 0
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'scene':>5s} {'fps':>6s} {'balls':>5s} {'pan':>5s} {'shake':>5s} {'cut':>4s} {'bar':>3s} "
              f"{'true':>4s} {'found':>5s} {'tp':>3s} {'F1':>5s} {'@cut':>4s} {'@swipe':>6s} {'wh/sw':>5s} {'wh-':>3s}")
        for i, world in enumerate(scenes.varied_worlds(args.count, seed=args.seed, size=size)):
            world.shutter = args.shutter
            if args.fps is not None:
                world.fps = args.fps
            if args.shake is not None:
                world.shake = args.shake
            path = Path(tmp) / f"scene{i}.mp4"
            truth = scenes.render(path, world)
            det = detector.detect(probe(str(path)), 0.0, world.seconds)
            s = score_world(det, truth)
            tp, n_true, n_vis = tp + s["tp"], n_true + s["n_true"], n_vis + s["n_vis"]
            tp_placed += s["tp_placed"]
            tp_heard, n_heard = tp_heard + s["tp_heard"], n_heard + s["n_heard"]
            bad += len(s["at_cut"]) + len(s["on_swipe"])
            stray += s["stray_whooshes"]
            for key in (f"{'shaking' if world.shake else 'steady'} camera", f"{world.fps:.2f} fps"):
                by[key] = [a + b for a, b in zip(by.get(key, [0, 0]), (s["tp"], s["n_true"]))]
            f1 = 2 * s["tp"] / max(s["n_true"] + s["n_vis"], 1)
            print(f"{i:5d} {world.fps:6.2f} {len(world.balls):5d} {world.pan[0]:+5.2f} {world.shake:5.3f} "
                  f"{'y' if world.cut_s else '-':>4s} {len(world.bars):3d} {s['n_true']:4d} {s['n_vis']:5d} "
                  f"{s['tp']:3d} {f1:5.2f} {len(s['at_cut']):4d} {len(s['on_swipe']):6d} "
                  f"{','.join(map(str, s['whooshes_per_swipe'])) or '-':>5s} {s['stray_whooshes']:3d}")
            if args.verbose:
                print("   true :", " ".join(f"{t:.3f}" for t in s["true"]))
                print("   found:", " ".join(f"{t:.3f}" for t in s["vis"]))
        f1 = 2 * tp / max(n_true + n_vis, 1)
        f1_heard = 2 * tp_heard / max(n_heard + n_vis, 1)
        print(f"contacts less than a frame apart counted once: {tp_heard}/{n_heard} found, F1 {f1_heard:.3f}")
        print(f"found within one frame and within {CONTACT_NEAR} of the frame of the contact: {tp_placed}/{n_true}, "
              f"F1 {2 * tp_placed / max(n_true + n_vis, 1):.3f}")
        print("found by condition: " + ", ".join(f"{key} {a}/{b}" for key, (a, b) in sorted(by.items())))
        print(f"all scenes: {tp}/{n_true} contacts within one frame, {n_vis} found, F1 {f1:.3f}, "
              f"{bad} at a cut or on a swipe; {stray} whooshes away from any swipe")
        print(f"{'quiet scene':>12s} {'transients':>10s} {'per 10 s':>8s} {'whooshes':>8s}")
        total, secs = 0, 0.0
        wiper_n = wiper_secs = 0.0
        for kind in scenes.QUIET_KINDS:
            for fps in (25.0, 30000 / 1001) if args.fps is None else (args.fps,):
                path = Path(tmp) / f"quiet_{kind}.mp4"
                scenes.quiet_scene(path, kind, fps=fps, seconds=5.0, seed=int(fps))
                det = detector.detect(probe(str(path)), 0.0, 5.0)
                n = len(contacts(det))
                total, secs = total + n, secs + 5.0
                if kind == "wiper":
                    wiper_n, wiper_secs = wiper_n + n, wiper_secs + 5.0
                whooshes = sum(1 for e in det.events if e.kind == "whoosh")
                print(f"{kind:>9s}@{fps:4.1f} {n:10d} {10 * n / 5.0:8.1f} {whooshes:8d}"
                      + (f"   {' '.join(f'{t:.2f}' for t in contacts(det))}" if args.verbose and n else ""))
        print(f"quiet scenes: {10 * total / secs:.2f} transients per 10 s (without the wiper, as measured "
              f"before it was added: {10 * (total - wiper_n) / (secs - wiper_secs):.2f})")
        print(f"{'light scene':>12s} {'camera':>8s} {'switch':>6s} {'found':>5s} {'other':>5s} {'cuts':>4s}")
        hit = want = other = cuts = 0
        for kind in scenes.LIGHT_KINDS:
            for shake in (0.0, 0.008) if args.shake is None else (args.shake,):
                for fps in (25.0, 30000 / 1001, 60.0) if args.fps is None else (args.fps,):
                    path = Path(tmp) / f"light_{kind}.mp4"
                    rgb, k0 = scenes.lit_frames(kind, fps, seed=int(fps), shake=shake)
                    scenes.encode(path, rgb, fps)
                    det = detector.detect(probe(str(path)), 0.0, len(rgb) / fps)
                    found = [t * fps for t in contacts(det)]
                    ok = k0 is not None and any(abs(f - k0) <= 1.0 for f in found)
                    hit, want = hit + ok, want + (k0 is not None)
                    other, cuts = other + len(found) - ok, cuts + len(det.cuts)
                    print(f"{kind:>7s}@{fps:4.1f} {'shaking' if shake else 'steady':>8s} "
                          f"{'-' if k0 is None else k0:>6} {int(ok):5d} {len(found) - ok:5d} {len(det.cuts):4d}")
        print(f"light scenes: {hit}/{want} changes of light found within one frame, {other} other events, "
              f"{cuts} taken for cuts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
