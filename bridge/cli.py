"""The ``foley`` command. The only place that prints errors and chooses exit codes."""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import sys
from typing import Sequence

from bridge import __version__
from bridge.commands import COMMANDS
from bridge.errors import FoleyError

log = logging.getLogger("foley.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="foley", description="Frame-aligned Foley from picture, as per-event clips and an OTIO timeline.")
    parser.add_argument("--version", action="version", version=f"foley-bridge {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"bridge.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bridge.commands.{name}":
                raise
            log.debug("command %s is not part of this build", name)
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
    except FoleyError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"ok": False, "code": exc.code, "message": str(exc)}))
        print(f"foley: error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print("foley: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # An interrupt that lands inside a C extension's import or callback comes back wrapped (for
        # example "ImportError: initialization failed" caused by it): it is still an interrupt.
        if _caused_by_interrupt(exc):
            print("foley: interrupted", file=sys.stderr)
            return 130
        raise
    if argv is None and args.command in QUICK_EXIT:
        _quick_exit(code)
    return code


#: One-shot commands that end the process as soon as they are done (see _quick_exit).
QUICK_EXIT = frozenset({"run"})


def _quick_exit(code: int) -> None:
    """End the ``foley`` process now: the exit handlers run (logging, worker processes, thread pools) and
    the standard streams are flushed, but the interpreter's own teardown is skipped: with torch, scipy
    and the models imported it spends 0.5-0.8 s collecting objects the operating system frees anyway.
    Every output was written, closed and renamed into place before the command returned."""
    import atexit
    import os

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _caused_by_interrupt(exc: BaseException) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, KeyboardInterrupt):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
