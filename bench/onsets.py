"""Onset benchmark on real footage: visual events vs onsets in the clip's own recorded soundtrack.

For every video in ../shared/media/video/ with audio: spectral-flux onsets of its soundtrack are the
reference (models/onset_eval.py); the EventDetector's impacts and footsteps (whooshes with --whooshes) are
matched one-to-one (greedy by distance) within +-50 ms and +-100 ms. Prints precision, recall, F1, the
median offset (visual - audio) of matched pairs, and the constant picture/sound lag that would match best
with the F1@50 after removing it (a clip whose sound is late shows here, not as a detector error). Clips
without audio get their event count only. Last, the per-frame cost of the motion features (best of
several passes over decoded frames, decoding excluded; the machine may be shared, so take the best).

    .venv/bin/python bench/onsets.py [--precision high] [--whooshes] [--verbose] [--no-cost]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media" / "video"


def feature_cost_ms(info, width: int, precision: str, frames: int = 150, passes: int = 5) -> float:
    """Best-of-``passes`` milliseconds per frame of MotionAnalyzer.step over the first ``frames`` frames."""
    from models.motion import MotionAnalyzer
    from models.video import iter_gray_frames

    grays = [g for _, g in iter_gray_frames(info, 0.0, info.duration_s, width=width)][:frames]
    best = float("inf")
    for _ in range(passes):
        analyzer = MotionAnalyzer(precision)
        analyzer.step(grays[0])
        t0 = time.perf_counter()
        for g in grays[1:]:
            analyzer.step(g)
        best = min(best, (time.perf_counter() - t0) / max(len(grays) - 1, 1))
    return best * 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="normal", choices=("normal", "high"))
    parser.add_argument("--whooshes", action="store_true", help="count whoosh onsets as visual onsets too")
    parser.add_argument("--verbose", action="store_true", help="print the onset lists")
    parser.add_argument("--no-cost", action="store_true", help="skip the per-frame feature cost")
    args = parser.parse_args(argv)
    if not MEDIA.is_dir():
        print(f"no media folder at {MEDIA}; nothing to measure")
        return 0
    from models.detect import WIDTHS, EventDetector
    from models.onset_eval import audio_onsets, best_lag, scores
    from models.video import probe

    kinds = {"impact", "footstep"} | ({"whoosh"} if args.whooshes else set())
    detector = EventDetector(precision=args.precision)
    print(f"precision={args.precision} kinds={','.join(sorted(kinds))}")
    print(f"{'clip':40s} {'fps':>5s} {'n_aud':>5s} {'n_vis':>5s} {'P@50':>5s} {'R@50':>5s} {'F1@50':>5s} "
          f"{'off_ms':>7s} {'F1@100':>6s} {'lag_ms':>6s} {'F1@50|lag':>9s} {'det_s':>6s}")
    f1s, f1s_100, f1s_lag = [], [], []
    paths = sorted(MEDIA.glob("*.mp4"))
    for path in paths:
        info = probe(str(path))
        t0 = time.perf_counter()
        det = detector.detect(info, 0.0, info.duration_s)
        elapsed = time.perf_counter() - t0
        vis = np.asarray(sorted(e.time_s for e in det.events if e.kind in kinds))
        if not info.has_audio:
            counts = {k: sum(e.kind == k for e in det.events) for k in ("impact", "footstep", "whoosh", "ambience")}
            print(f"{path.stem[:40]:40s} {info.fps:5.1f} {'-':>5s} {len(vis):5d}   (no audio) events: {counts} "
                  f"{elapsed:6.2f}")
            continue
        aud = audio_onsets(str(path))
        s50, s100 = scores(vis, aud, 0.05), scores(vis, aud, 0.1)
        lag, slag = best_lag(vis, aud, 0.05)
        f1s.append(s50["f1"])
        f1s_100.append(s100["f1"])
        f1s_lag.append(slag["f1"])
        print(f"{path.stem[:40]:40s} {info.fps:5.1f} {len(aud):5d} {len(vis):5d} {s50['precision']:5.2f} "
              f"{s50['recall']:5.2f} {s50['f1']:5.2f} {s50['offset_ms']:7.1f} {s100['f1']:6.2f} "
              f"{lag * 1000:+6.0f} {slag['f1']:9.2f} {elapsed:6.2f}")
        if args.verbose:
            print("   audio :", " ".join(f"{t:.3f}" for t in aud))
            print("   visual:", " ".join(f"{t:.3f}" for t in vis))
    if f1s:
        print(f"mean over {len(f1s)} clips with audio: F1@50 {np.mean(f1s):.2f}  F1@100 {np.mean(f1s_100):.2f}  "
              f"F1@50 after each clip's best lag {np.mean(f1s_lag):.2f}")
    if not args.no_cost and paths:
        width = WIDTHS[args.precision]
        cost = feature_cost_ms(probe(str(paths[-1])), width, args.precision)
        print(f"motion features: {cost:.3f} ms per frame at {width} px ({args.precision}; best of 5 passes, "
              f"{paths[-1].stem[:40]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
