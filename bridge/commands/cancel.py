"""``foley cancel JOB``: stop a queued or running job; its partial output is removed."""
from __future__ import annotations

import argparse

from bridge.commands.serve import DEFAULT_PORT


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("cancel", help="cancel a daemon job",
                              description="Cancel JOB: a queued job is dropped, a running one stops within "
                                          "about a second and leaves nothing behind.")
    p.add_argument("job", metavar="JOB")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"daemon port (default: {DEFAULT_PORT})")
    p.add_argument("--host", default="127.0.0.1", help="daemon address (default: 127.0.0.1)")
    p.set_defaults(func=cmd_cancel)


def cmd_cancel(args: argparse.Namespace) -> int:
    from bridge.daemon import protocol
    from bridge.daemon.client import Connection

    with Connection(args.host, args.port) as conn:
        conn.call(protocol.CANCEL, args.job, replies=(protocol.CANCELLING,))
    print(f"cancelling job {args.job}")
    return 0
