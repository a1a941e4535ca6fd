"""``foley run VIDEO``: the whole job on one video file."""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import shutil
import signal
import threading
from pathlib import Path
from typing import Iterator

from bridge.errors import InputError
from bridge.kinds import KINDS


def add_job_options(p: argparse.ArgumentParser) -> None:
    """Flags shared by ``run`` and ``demo``."""
    p.add_argument("-o", "--output", metavar="OUTDIR", help="output folder (default: NAME.foley/ beside the video)")
    p.add_argument("--no-spatial", action="store_true", help="centred, mono-compatible clips (no panning)")
    p.add_argument("--no-room", action="store_true",
                   help="dry clips: no room response from the scene, no distance from the object's size")
    p.add_argument("--precision", choices=("normal", "high"), default="normal",
                   help="'high' spends more compute on onset timing (default: normal)")
    p.add_argument("--music-suppression", type=float, default=0.3, metavar="0..1",
                   help="how much to turn the original audio down in mix.wav (default: 0.3)")
    p.add_argument("--seed", type=int, default=0, help="random seed for sound variation (default: 0)")
    p.add_argument("--export-video", metavar="OUT.mp4", help="also write the video with the new mix as its audio")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="compute device (default: auto)")
    p.add_argument("--backend", default="auto",
                   help="sound source: auto (default: your library when configured, then the bundled kit, then "
                        "synthesis), library, kit or synth")
    p.add_argument("--library", action="append", default=[], metavar="DIR",
                   help="sound library folder (with --backend library)")
    p.add_argument("--query", help="text that guides the library search, e.g. 'metal'")
    p.add_argument("--format", default="otio", metavar="LIST", help="timeline formats: otio,xml,aaf (default: otio)")
    p.add_argument("--kinds", default=",".join(KINDS), metavar="LIST",
                   help=f"event kinds to keep, comma-separated: {','.join(KINDS)} (default: all)")
    p.add_argument("--prompt", metavar="TEXT",
                   help="what the shot shows, in words, e.g. 'blacksmith hammering steel on an anvil, workshop': "
                        "steers each event's sound category, material and scene")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout, no progress bar")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="find sound events in a video and make Foley for them",
                              description="Find sound events in VIDEO and write per-event clips, an OTIO "
                                          "timeline, stems and a mix.")
    p.add_argument("video", metavar="VIDEO")
    p.add_argument("--range", nargs=2, type=float, metavar=("START", "END"), help="only this span, in seconds")
    add_job_options(p)
    p.set_defaults(func=cmd_run)


def options_from_args(args: argparse.Namespace):
    from bridge.options import Options

    return Options.from_dict({
        "spatial": not args.no_spatial, "room": not args.no_room, "precision": args.precision,
        "music_suppression": args.music_suppression, "seed": args.seed, "device": args.device,
        "backend": args.backend, "library": args.library, "query": args.query, "formats": args.format,
        "kinds": args.kinds, "prompt": args.prompt,
    })


def execute(args: argparse.Namespace, video: str, span: tuple[float, float] | None) -> int:
    from bridge.api import Project
    from bridge.progress import progress_bar

    options = options_from_args(args)
    if args.export_video:
        from bridge.export import check_export_path

        check_export_path(video, args.export_video)  # before the job, not after all its work
    project = Project(video, device=options.device, backends=(options.backend,), cold_start=True)
    with terminate_as_interrupt() as stop, progress_bar(enabled=not args.json) as progress:
        out_dir = _output_dir(video, args.output)
        fresh = not out_dir.exists()
        result = project.generate(options, span=span, output_dir=args.output, progress=progress, cancel=stop)
        try:
            if stop.is_set():   # terminated after the job's last check
                raise Terminated("terminated")
            if args.export_video:
                result.export(args.export_video)
        except BaseException:
            if fresh:  # the command fails as a whole: no complete-looking result stays behind
                shutil.rmtree(result.output_dir, ignore_errors=True)
            raise
    if args.json:
        print(json.dumps(result.result, indent=2))
    else:
        counts: dict[str, int] = {}
        for ev in result.events:
            counts[ev.kind] = counts.get(ev.kind, 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no events"
        print(f"{len(result.events)} events ({summary})")
        print_events(result.events)
        print(f"wrote {result.output_dir}/  (foley.otio, events.json, clips/, stems/, mix.wav)")
        if args.export_video:
            print(f"wrote {Path(args.export_video).absolute()}")
    return 0


def _output_dir(video: str, output: str | None) -> Path:
    from bridge.pipeline import default_output_dir
    from bridge.request import Item, Request

    return Path(output).absolute() if output else default_output_dir(Request(items=[Item(path=video)])).absolute()


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: unwinds like Ctrl-C, so temp folders and files are removed."""


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[threading.Event]:
    """While a job runs in this process, SIGTERM and SIGHUP unwind it like Ctrl-C (temp output removed).

    The handler's exception is raised wherever the main thread is; where that is inside a C extension's
    call back into Python (an ``isinstance`` check, say) the extension may drop it, and the job would run
    on to the end. So the handler also sets the event yielded here: the job checks it between its stages
    (as a cancel), and the command after the job."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: object) -> None:
        stop.set()
        raise Terminated(signal.Signals(signum).name)

    sigs = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {sig: signal.signal(sig, handler) for sig in sigs}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def print_events(events: list, limit: int = 24) -> None:
    """A short table: when, what, which track, where on screen, how strong."""
    if not events:
        return
    print(f"  {'time':>9}  {'kind':<9} {'track':<18} {'x':>4} {'y':>4} {'level':>5}")
    for ev in events[:limit]:
        print(f"  {ev.time_s:8.3f}s  {ev.kind:<9} {ev.track or '':<18} {ev.x:4.2f} {ev.y:4.2f} {ev.intensity:5.2f}")
    if len(events) > limit:
        print(f"  ... and {len(events) - limit} more in events.json")


def cmd_run(args: argparse.Namespace) -> int:
    span = tuple(args.range) if args.range else None
    if span is not None and not all(math.isfinite(v) for v in span):
        raise InputError(f"--range {span[0]!r} {span[1]!r} must be two finite numbers of seconds, START < END")
    return execute(args, args.video, span)
