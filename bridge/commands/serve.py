"""``foley serve``: the daemon that keeps the models loaded and answers OSC (UDP and TCP)."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from bridge.errors import InputError

DEFAULT_PORT = 9000


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve", help="run the OSC daemon (models stay loaded between jobs)",
        description="Serve Foley jobs over OSC (UDP and TCP/SLIP on the same port; see docs/osc.md). "
                    "Models load once at start. SIGTERM or Ctrl-C drains: no new jobs, the running one "
                    "may finish within --drain-timeout, then it is cancelled.")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"UDP and TCP port (default: {DEFAULT_PORT})")
    p.add_argument("--bind", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="compute device (default: auto)")
    p.add_argument("--backend", action="append", default=[], metavar="NAME",
                   help="sound source to preload (default: auto, the kit and the synthesizer); repeatable")
    p.add_argument("--watch", action="append", default=[], metavar="DIR",
                   help="watch folder: drop videos or timelines into DIR/in, results appear in DIR/out")
    p.add_argument("--allow", action="append", default=[], metavar="DIR",
                   help="folder requests may read or write (default: your home and the output root); repeatable")
    p.add_argument("--allow-remote", action="store_true", help="permit a non-loopback --bind address")
    p.add_argument("--drain-timeout", type=float, default=30.0, metavar="S",
                   help="seconds a running job may go on after SIGTERM before it is cancelled (default: 30)")
    p.add_argument("--idle-timeout", type=float, default=120.0, metavar="S",
                   help="close a TCP connection silent for S seconds with no job of its own running "
                        "(default: 120)")
    p.add_argument("--max-connections", type=int, default=64, metavar="N",
                   help="most TCP connections served at once, at most a quarter of the open-file limit "
                        "(default: 64)")
    p.add_argument("--no-warm", action="store_true", help="skip the warm-up job at start")
    p.add_argument("--no-library-watch", action="store_true",
                   help="do not keep the sound-library index current while serving")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from bridge.daemon.server import Daemon, DaemonConfig

    if not args.idle_timeout > 0:
        raise InputError(f"--idle-timeout {args.idle_timeout!r} must be a positive number of seconds")
    if args.max_connections < 1:
        raise InputError(f"--max-connections {args.max_connections!r} must be at least 1")
    if args.verbose == 0:
        logging.getLogger("foley").setLevel(logging.INFO)
    config = DaemonConfig(port=args.port, bind=args.bind, device=args.device,
                          backends=tuple(args.backend) or ("auto",), watch=[Path(d) for d in args.watch],
                          allow=[Path(d) for d in args.allow], allow_remote=args.allow_remote,
                          drain_timeout_s=args.drain_timeout, warm=not args.no_warm,
                          library_watch=not args.no_library_watch, idle_timeout_s=args.idle_timeout,
                          max_connections=args.max_connections)
    daemon = Daemon(config)
    daemon.start()
    print(f"foley daemon listening on {config.bind}:{daemon.port} (UDP and TCP); Ctrl-C to stop", flush=True)
    daemon.serve_forever()
    return 0
