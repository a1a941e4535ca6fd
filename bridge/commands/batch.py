"""``foley batch REEL|FOLDER``: every shot of a timeline (or every video of a folder), one ``foley run`` each,
on this machine or a Ray cluster."""
from __future__ import annotations

import argparse
import contextlib
import json
import sys

from bridge.commands.run import add_job_options, options_from_args
from bridge.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "batch", help="make Foley for a whole reel (timeline or folder), shot by shot, locally or on Ray",
        description="Split a timeline (.otio, FCP7 .xml, .aaf) into its shots, or take a folder's videos, and "
                    "run each as `foley run` would, on warm workers: Ray on this machine or a cluster "
                    "(--ray-address), or a local process pool when Ray is not installed. Writes OUTDIR/<shot>/ "
                    "per shot, OUTDIR/batch.json, OUTDIR/progress.json and, for a timeline, OUTDIR/foley.otio "
                    "with every clip at its record position.")
    p.add_argument("reel", metavar="REEL|FOLDER", help="a timeline file or a folder of videos")
    p.add_argument("--workers", type=int, metavar="N",
                   help="workers, each with its own loaded models (default: one per two CPUs, at most one per shot)")
    p.add_argument("--ray-address", metavar="auto|HOST:PORT",
                   help="join this Ray cluster (started with `ray start --head`); 'auto' finds one on this machine")
    p.add_argument("--runner", choices=("auto", "ray", "pool"), default="auto",
                   help="where the workers run: Ray when installed (auto, default), ray, or a local process pool")
    p.add_argument("--resume", action="store_true",
                   help="skip shots whose results in OUTDIR are complete for these options (left untouched)")
    add_job_options(p)
    p.set_defaults(func=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    from bridge.batch import BatchConfig, run_batch

    if args.export_video:
        raise InputError(f"--export-video {args.export_video!r} is for one video; foley batch writes per-shot "
                         "folders (export a shot with `foley run VIDEO --export-video OUT.mp4`)")
    config = BatchConfig(source=args.reel, output_dir=args.output, options=options_from_args(args),
                         workers=args.workers, ray_address=args.ray_address, runner=args.runner,
                         resume=args.resume)

    def echo(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    # Ray prints its own notices (a worker restarted, a task retried) on stdout: keep stdout for the result.
    with contextlib.redirect_stdout(sys.stderr):
        doc = run_batch(config, echo=None if args.json else echo)
    shots = doc["shots"]
    failed = [s for s in shots if s["status"] == "failed"]
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        ok = sum(1 for s in shots if s["status"] == "ok")
        skipped = sum(1 for s in shots if s["status"] == "skipped")
        events = sum(s["events"] or 0 for s in shots if s["status"] != "failed")
        print(f"{ok} shots done, {skipped} skipped, {len(failed)} failed; {events} events")
        for s in failed:
            print(f"  failed: {s['shot']}: {s['error']}")
        for path in doc["otio"]:
            print(f"wrote {path}")
        print(f"wrote {doc['output_dir']}/  (one folder per shot, batch.json, progress.json)")
    return 1 if failed else 0
