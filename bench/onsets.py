"""Onset benchmark on real footage: visual events vs onsets in the clip's own recorded soundtrack.

For every video in ../shared/media/video/ with audio, the detector is fed the picture only (the clip is
remuxed without its audio stream into a temporary file, so nothing can lean on the soundtrack). Spectral-flux
onsets of the soundtrack, stamped at the middle of the analysis window and timed with a shorter window
(models/onset_eval.py), are the reference. Impacts and footsteps (whooshes with --whooshes) are matched
one-to-one (greedy by distance) within +-50 and +-25 ms. Per clip: F1 at both tolerances raw and at the clip's
best constant lag within +-100 ms (some sources carry an A/V offset: the sound late), the median offset
(visual - audio) of matched pairs, and chance: the F1 of as many onsets drawn at random. Clips where nothing
on screen makes a sound (NO_EVENT) are scored as false transients per 10 s instead; clips without audio
get their event count only. Last, the per-frame cost of the motion features.

    .venv/bin/python bench/onsets.py [--precision high] [--whooshes] [--verbose] [--no-cost]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media" / "video"
#: Clips in which nothing on screen makes a transient (an idling engine, a windscreen wiper in rain): their
#: soundtracks' onsets are noise, and every visual transient found is a false one.
NO_EVENT = ("specvqgan_vggsound_video_-1pRmoJIGQc_10000_20000", "seeinghearing_0VHVqjGXmBM_000030")
LAG_S = 0.1


def picture_only(src: Path, dst: Path) -> Path:
    """``src`` remuxed (no re-encoding) without its audio streams into ``dst``."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        for packet in inp.demux(vin):
            if packet.dts is None:
                continue
            packet.stream = vout
            out.mux(packet)
    return dst


def score_clip(vis: np.ndarray, aud: np.ndarray, duration_s: float) -> dict[str, float]:
    """F1 within 50 and 25 ms raw and at the best lag (within +-LAG_S), median offset, chance F1."""
    from models.onset_eval import best_lag, chance_f1, scores

    out: dict[str, float] = {"n_aud": len(aud), "n_vis": len(vis)}
    for tol in (0.05, 0.025):
        ms = int(round(tol * 1000))
        s = scores(vis, aud, tol)
        lag, sl = best_lag(vis, aud, tol, search_s=LAG_S)
        out.update({f"f1_{ms}": s["f1"], f"p_{ms}": s["precision"], f"r_{ms}": s["recall"],
                    f"lag_{ms}": lag, f"f1lag_{ms}": sl["f1"],
                    f"chance_{ms}": chance_f1(len(vis), aud, duration_s, tol)})
    out["offset_ms"] = scores(vis, aud, 0.05)["offset_ms"]
    return out


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


HEADER = (f"{'clip':34s} {'fps':>5s} {'aud':>3s} {'vis':>3s} {'F1@50':>5s} {'F1@25':>5s} {'off_ms':>6s} "
          f"{'lag50':>5s} {'F1@50|lag':>9s} {'lag25':>5s} {'F1@25|lag':>9s} {'ch@50':>5s} {'ch@25':>5s}")


def row(name: str, fps: float, s: dict[str, float]) -> str:
    return (f"{name[:34]:34s} {fps:5.1f} {int(s['n_aud']):3d} {int(s['n_vis']):3d} {s['f1_50']:5.2f} {s['f1_25']:5.2f} "
            f"{s['offset_ms']:6.1f} {s['lag_50'] * 1000:+5.0f} {s['f1lag_50']:9.2f} {s['lag_25'] * 1000:+5.0f} "
            f"{s['f1lag_25']:9.2f} {s['chance_50']:5.2f} {s['chance_25']:5.2f}")


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
    from models.onset_eval import audio_onsets
    from models.video import probe

    kinds = {"impact", "footstep"} | ({"whoosh"} if args.whooshes else set())
    detector = EventDetector(precision=args.precision)
    print(f"precision={args.precision} kinds={','.join(sorted(kinds))} "
          f"(picture only; lag within +-{LAG_S * 1000:.0f} ms)")
    print(HEADER)
    rows: list[dict[str, float]] = []
    quiet: list[tuple[str, int, float]] = []
    whooshes: list[tuple[str, float]] = []   # per clip, per 10 s: not scored, shown for their rate
    paths = sorted(MEDIA.glob("*.mp4"))
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            info = probe(str(path))
            silent = probe(str(picture_only(path, Path(tmp) / path.name)))
            det = detector.detect(silent, 0.0, silent.duration_s)
            vis = np.asarray(sorted(e.time_s for e in det.events if e.kind in kinds))
            whooshes.append((path.stem, 10 * sum(e.kind == "whoosh" for e in det.events) / info.duration_s))
            if path.stem in NO_EVENT:
                quiet.append((path.stem, len(vis), info.duration_s))
                continue
            if not info.has_audio:
                counts = {k: sum(e.kind == k for e in det.events) for k in ("impact", "footstep", "whoosh")}
                print(f"{path.stem[:34]:34s} {info.fps:5.1f}   - {len(vis):3d}  (no audio) {counts}")
                continue
            aud = audio_onsets(str(path))
            s = score_clip(vis, aud, info.duration_s)
            rows.append(s)
            print(row(path.stem, info.fps, s))
            if args.verbose:
                print("   audio :", " ".join(f"{t:.3f}" for t in aud))
                print("   visual:", " ".join(f"{t:.3f}" for t in vis))
    if rows:
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "offset_ms"}
        print(f"mean over {len(rows)} clips: F1@50 {mean['f1_50']:.2f} F1@25 {mean['f1_25']:.2f} | at best lag: "
              f"F1@50 {mean['f1lag_50']:.2f} F1@25 {mean['f1lag_25']:.2f} | chance F1@50 {mean['chance_50']:.2f} "
              f"F1@25 {mean['chance_25']:.2f}")
    for name, n, dur in quiet:
        print(f"nothing sounds: {name[:34]:34s} {n:3d} transients in {dur:.1f} s = {10 * n / dur:.1f} per 10 s")
    if whooshes:
        print("whooshes per 10 s (not scored): " + ", ".join(f"{name} {rate:.1f}" for name, rate in whooshes))
    if not args.no_cost and paths:
        width = WIDTHS[args.precision]
        cost = feature_cost_ms(probe(str(paths[-1])), width, args.precision)
        print(f"motion features: {cost:.3f} ms per frame at {width} px ({args.precision}; best of 5 passes, "
              f"{paths[-1].stem[:40]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
