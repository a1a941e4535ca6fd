"""Speed and memory of a whole ``foley run`` against decoding the same frames with PyAV alone.

Generates a 1080p clip (default 20 s at 30 fps) with moving objects, then, in one run:
  1. decode every frame with PyAV (thread_type AUTO) and scale it to the analysis' 256 px gray frame, the
     floor any video tool pays (and, for reference, decode only);
  2. ``foley run`` on the same file as a subprocess (cold: includes Python start and model load);
  3. with ``--warm``: a job on a warm engine, as the daemon runs it (models loaded, one job done before);
and prints the times, their ratios to the decode (targets: cold <= 1.5, warm <= 1.2) and the run's peak
memory (max RSS). Each is measured ``--repeat`` times, each run or job right after a decode of its own, and
the ratio is the median of those pairs (their range beside it): on a shared machine one decode can read 20 %
slower than one a minute later, which moved a single run's ratio by more than the targets' margin.

    .venv/bin/python bench/speed.py [--seconds 20] [--fps 30] [--keep DIR] [--warm] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np


def make_video(path: Path, seconds: float, fps: int = 30, width: int = 1920, height: int = 1080) -> None:
    """Balls that fall and bounce on a textured floor, under film grain, with a slow camera pan.

    Grain and detail matter: a flat synthetic picture decodes several times faster than camera
    footage, which would flatter the ratio. The encode (x264 'veryfast', CRF 22) lands near the
    decode speed of real 1080p H.264 camera files.
    """
    rng = np.random.default_rng(1)
    texture = (rng.random((height // 4 + 64, width // 4 + 64)) * 90 + 60).astype(np.uint8)
    background = np.kron(texture, np.ones((4, 4), dtype=np.uint8))
    grain = [rng.integers(-8, 9, size=(height, width, 1), dtype=np.int16) for _ in range(8)]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "22"}
        n = int(seconds * fps)
        for i in range(n):
            t = i / fps
            dx = int(120 + 100 * np.sin(t / 3)) * width // 1920
            base = background[40:40 + height, dx:dx + width]
            img = np.repeat(base[:, :, None], 3, axis=2).astype(np.int16)
            r = height // 18
            for k, fx in enumerate((0.16, 0.47, 0.78)):
                x0 = int(fx * width)
                period = 1.2 + 0.3 * k
                phase = (t + 0.4 * k) % period / period  # 0..1, floor contact at 0
                y = int(height * (0.88 - 0.74 * 4 * phase * (1 - phase)))
                img[max(0, y - r):y + r, x0 - r:x0 + r] = (230, 60 + 60 * k, 40)
            img += grain[i % len(grain)]
            frame = av.VideoFrame.from_ndarray(np.clip(img, 0, 255).astype(np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def decode_all(path: Path, scale: bool = True) -> tuple[float, int]:
    """Seconds to decode every frame with PyAV, each scaled to the 256 px gray frame the analysis uses (or,
    with ``scale=False``, decoded only: the share of the scaling, which the engine runs beside decoding)."""
    start = time.perf_counter()
    count = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if scale:
                frame.to_ndarray(width=256, height=144, format="gray")
            count += 1
    return time.perf_counter() - start, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--size", default="1920x1080", metavar="WxH",
                        help="picture size (a 10-minute memory check runs faster at 640x360)")
    parser.add_argument("--fps", type=int, default=30,
                        help="frame rate of the generated clip (48-60 fps is analysed three ways: every frame, "
                             "and the even and the odd frames)")
    parser.add_argument("--keep", type=Path, help="keep the generated video and outputs here")
    parser.add_argument("--warm", action="store_true", help="also time a job on a warm engine (daemon)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="pairs of a decode and a run (and of a decode and a warm job); the median ratio counts")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat {args.repeat}: give 1 or more")
    work = args.keep or Path(tempfile.mkdtemp(prefix="foley-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in args.size.lower().split("x"))
    suffix = "" if args.fps == 30 else f"_{args.fps}fps"
    video = work / f"bench_{width}x{height}_{args.seconds:.0f}s{suffix}.mp4"
    if not video.exists():
        t0 = time.perf_counter()
        make_video(video, args.seconds, fps=args.fps, width=width, height=height)
        print(f"generated {video.name}: {args.seconds:.0f} s {width}x{height} {args.fps} fps "
              f"in {time.perf_counter() - t0:.1f} s")
    foley = Path(sys.executable).with_name("foley")
    decodes, bares, runs = [], [], []
    for _ in range(args.repeat):   # each cold run right after a decode: the pair sees the machine alike
        decode_s, frames = decode_all(video)
        decodes.append(decode_s)
        bares.append(decode_all(video, scale=False)[0])
        out = Path(tempfile.mkdtemp(prefix="run-", dir=work)) / "out"   # a new folder for each run
        cmd = [str(foley), "run", str(video), "-o", str(out), "--json"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        runs.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)   # the cold runs' (before the warm engine's worker)
    peak_mb = usage.ru_maxrss / 1024
    engine = None
    warm_decodes, warms = [], []
    for _ in range(args.repeat if args.warm else 0):
        warm_decodes.append(decode_all(video)[0])
        engine, warm_s = warm_job(video, work, engine)
        warms.append(warm_s)
    events = len(json.loads((out / "events.json").read_text())["events"])
    cold = sorted(r / d for r, d in zip(runs, decodes))
    print(f"frames decoded            {frames}   ({args.repeat} times each: fastest, slowest)")
    print(f"PyAV decode alone         {min(decodes):6.2f} s  ({frames / min(decodes):.0f} frames/s; "
          f"{max(decodes):.2f} s)")
    print(f"  of which scaling        {min(decodes) - min(bares):6.2f} s  (decoding without it {min(bares):.2f} s)")
    print(f"foley run (cold, whole)   {min(runs):6.2f} s  ({events} events, "
          f"{(usage.ru_utime + usage.ru_stime) / args.repeat:.1f} CPU s a run on {os.cpu_count()} cores; "
          f"{max(runs):.2f} s)")
    print(f"ratio run / decode        {cold[len(cold) // 2]:6.2f}   (target <= 1.5; the median of the "
          f"{args.repeat} pairs, {cold[0]:.2f}-{cold[-1]:.2f})")
    print(f"peak memory of foley run  {peak_mb:6.0f} MB")
    if args.warm:
        warm = sorted(w / d for w, d in zip(warms, warm_decodes))
        print(f"warm engine job           {min(warms):6.2f} s  ({max(warms):.2f} s)")
        print(f"ratio warm job / decode   {warm[len(warm) // 2]:6.2f}   (target <= 1.2; the median of the "
              f"{args.repeat} pairs, {warm[0]:.2f}-{warm[-1]:.2f})")
    return 0


def warm_job(video: Path, work: Path, engine=None):
    """(engine, seconds) of a job on an Engine that has loaded its models and done one job already (the
    daemon's steady state), in this process; ``engine`` is that engine from an earlier call, or None."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bridge.pipeline import Engine
    from bridge.request import Item, Request

    if engine is None:
        engine = Engine()
        engine.run(Request(items=[Item(path=str(video))], output_dir=str(Path(tempfile.mkdtemp(dir=work)) / "out")))
    out = Path(tempfile.mkdtemp(prefix="warm-", dir=work)) / "out"
    t0 = time.perf_counter()
    engine.run(Request(items=[Item(path=str(video))], output_dir=str(out)))
    return engine, time.perf_counter() - t0


if __name__ == "__main__":
    sys.exit(main())
