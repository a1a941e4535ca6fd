"""``foley demo``: make a short video of our own and run the whole job on it."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from bridge.commands.run import add_job_options


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="run the whole job on a generated video (no files needed)",
        description="Render a short video (objects that fall, bounce and hit at known frames, a fast swipe, "
                    "a cut), run the pipeline on it, compare the impacts found with the known ones and export "
                    "the video with its new soundtrack.")
    p.add_argument("--dir", default="foley-demo", metavar="DIR", help="where to put everything (default: ./foley-demo)")
    add_job_options(p)
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    import numpy as np

    from bridge.commands.run import execute
    from bridge.demo_video import make_demo_video
    from bridge.errors import OutputError
    from models.onset_eval import match

    work = Path(args.dir).absolute()
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"demo folder {str(work)!r} cannot be created: {exc.strerror}") from None
    video = work / "demo.mp4"
    truth = make_demo_video(video)
    if not args.json:
        print(f"made {video} ({len(truth.impacts)} impacts at known frames, a swipe, a cut at "
              f"{', '.join(f'{c:.2f}' for c in truth.cuts)} s)")
    args.output = args.output or str(work / "demo.foley")
    args.export_video = args.export_video or str(work / "demo_with_foley.mp4")
    json_out = args.json
    code = execute(args, str(video), None)
    events = json.loads((Path(args.output) / "events.json").read_text(encoding="utf-8"))["events"]
    found = [e["time_s"] for e in events if e["kind"] == "impact"]
    frame = 1.0 / truth.fps
    pairs = match(np.asarray(found), np.asarray(truth.impact_times), frame)
    matched, offsets = len(pairs), [f - t for f, t in pairs]
    if not json_out:
        print(f"impacts: {matched}/{len(truth.impacts)} found within ±1 frame, {len(found) - matched} extra")
        if offsets:
            worst = max(abs(o) for o in offsets) * 1000
            print(f"timing:  worst offset {worst:.1f} ms ({worst / 1000 / frame:.2f} frame)")
        print(f"open {Path(args.output) / 'foley.otio'} in your editor, or play {args.export_video}")
    return code
