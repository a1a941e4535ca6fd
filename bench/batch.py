"""Throughput of ``foley batch`` with 1 and 2 workers on this machine, measured in one run.

Generates a reel of short shots (textured objects falling and bouncing, known impacts) as a .otio
timeline, runs the whole batch once with one worker and once with two (Ray on this machine when it is
installed, else the process pool; ``--runner`` chooses), and prints for each:
  - wall time and shots per minute including start-up (Ray, worker processes, model loading);
  - warm shots per minute: shots finished after every worker had finished its first, over that time;
  - memory per worker (resident set size after its last shot, MiB);
and the 2-worker / 1-worker ratio of both rates, with the machine's load average (other work on the same
cores lowers both rates).

    .venv/bin/python bench/batch.py [--shots 24] [--seconds 2] [--size 1280x720] [--runner auto]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bridge.batch import BatchConfig, run_batch  # noqa: E402
from bridge.demo_video import Mover, SceneSpec, drop, render_scene  # noqa: E402
from bridge.options import Options  # noqa: E402

FPS = 30


def make_reel(root: Path, shots: int, seconds: float, width: int, height: int) -> Path:
    """Videos of ``2 * seconds`` with two drops each; every video gives two shots (first and second half)."""
    import opentimelineio as otio

    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange
    timeline = otio.schema.Timeline(name="bench reel", global_start_time=rt(3600 * FPS, FPS))
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    half = round(seconds * FPS)
    for n in range((shots + 1) // 2):
        path = root / f"take{n + 1:02d}.mp4"
        movers = [Mover(drop(0.25 + 0.05 * (n % 4), 0.1, seconds * 0.45), seed=n + 1),
                  Mover(drop(0.7, seconds + 0.1, seconds * 1.5), color=(80, 120, 240), seed=n + 50)]
        render_scene(path, SceneSpec(width=width, height=height, fps=FPS, seconds=2 * seconds, movers=movers,
                                     seed=n))
        ref = otio.schema.ExternalReference(target_url=otio.url_utils.url_from_filepath(str(path)),
                                            available_range=tr(rt(0, FPS), rt(2 * half, FPS)))
        for k in range(2):
            if len(list(timeline.find_clips())) < shots:
                track.append(otio.schema.Clip(name=f"take{n + 1:02d}{'ab'[k]}", media_reference=ref.clone(),
                                              source_range=tr(rt(k * half, FPS), rt(half, FPS))))
    reel = root / "reel.otio"
    otio.adapters.write_to_file(timeline, str(reel))
    return reel


def measure(reel: Path, outdir: Path, workers: int, runner: str) -> dict:
    finished: list[tuple[float, str]] = []  # (time since start, worker) as each shot finishes
    lines: list[str] = []
    t0 = time.monotonic()
    marks: dict[str, float] = {}

    def echo(line: str) -> None:
        marks.setdefault("running", time.monotonic() - t0)
        lines.append(line)

    config = BatchConfig(source=str(reel), output_dir=str(outdir), options=Options(device="cpu"),
                         workers=workers, runner=runner)
    doc = run_batch(config, echo=echo, on_shot=lambda entry: finished.append((time.monotonic() - t0, entry["worker"])))
    wall = time.monotonic() - t0
    shots = doc["shots"]
    failed = [s for s in shots if s["status"] != "ok"]
    if failed:
        raise SystemExit(f"{len(failed)} shots failed: {failed[0]['error']}")
    # A worker is warm once it has finished a shot; count shots after all of them are.
    first_done: dict[str, float] = {}
    for t, worker in finished:
        first_done.setdefault(worker, t)
    warm_from = max(first_done.values())
    warm = [t for t, _ in finished if t > warm_from]
    rss: dict[str, float] = {}
    for s in shots:
        rss[s["worker"]] = max(rss.get(s["worker"], 0.0), s.get("worker_rss_mb") or 0.0)
    return {"workers": workers, "runner": doc["runner"], "shots": len(shots), "wall_s": round(wall, 1),
            "startup_s": round(marks.get("running", 0.0), 1),
            "shots_per_min": round(60 * len(shots) / wall, 1),
            "warm_shots_per_min": round(60 * len(warm) / (max(warm) - warm_from), 1) if len(warm) > 1 else None,
            "shot_seconds_mean": round(sum(s["seconds"] for s in shots) / len(shots), 2),
            "rss_mb_per_worker": sorted(round(v) for v in rss.values())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shots", type=int, default=24)
    ap.add_argument("--seconds", type=float, default=2.0, help="length of each shot")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--runner", choices=("auto", "ray", "pool"), default="auto")
    ap.add_argument("--keep", metavar="DIR", help="work here and keep the outputs")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="foley-bench-batch-"))
    root.mkdir(parents=True, exist_ok=True)
    reel = make_reel(root, args.shots, args.seconds, width, height)
    import os

    load_before = os.getloadavg()[0]
    results = [measure(reel, root / f"out{w}", w, args.runner) for w in (1, 2)]
    load_after = os.getloadavg()[0]
    for r in results:
        print(f"{r['workers']} worker{'s' * (r['workers'] != 1)}: {r['shots']} shots in {r['wall_s']} s "
              f"(start-up {r['startup_s']} s) = {r['shots_per_min']} shots/min, warm {r['warm_shots_per_min']} "
              f"shots/min, {r['shot_seconds_mean']} s per shot on its worker, RSS per worker "
              f"{r['rss_mb_per_worker']} MiB  [{r['runner']}]")
    one, two = results
    ratio = two["shots_per_min"] / one["shots_per_min"]
    warm = (two["warm_shots_per_min"] / one["warm_shots_per_min"]
            if one["warm_shots_per_min"] and two["warm_shots_per_min"] else None)
    print(f"2 workers / 1 worker: {ratio:.2f}x overall" + (f", {warm:.2f}x warm" if warm else "")
          + f"; {os.cpu_count()} CPUs, load average {load_before:.1f} before, {load_after:.1f} after")
    print(json.dumps({"results": results, "ratio": round(ratio, 2), "warm_ratio": warm and round(warm, 2),
                      "cpus": os.cpu_count(), "load_average": [round(load_before, 1), round(load_after, 1)]}))


if __name__ == "__main__":
    main()
