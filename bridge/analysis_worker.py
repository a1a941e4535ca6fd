"""Event detection in a forked worker process, for a cold start.

On a cold ``foley run`` the sound models (torch) load while the video is analysed. In one process
both compete for the interpreter lock; in a forked worker the analysis runs truly in parallel with
the import. The worker is forked before any model loads, sends progress and its Detection back
through a pipe, and is terminated on cancel. Only used where ``fork`` exists (Linux, macOS with
care: we use it on Linux only) and never in the daemon, whose models are already loaded.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
from typing import Any, Callable

from bridge.errors import Cancelled, FoleyError

log = logging.getLogger("foley.analysis")


def available() -> bool:
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def _child(conn: Any, detector: Any, info: Any, start_s: float, end_s: float) -> None:
    try:
        if hasattr(detector, "fresh"):
            detector = detector.fresh()  # models the parent loaded (their threads) do not survive the fork
        detection = detector.detect(info, start_s, end_s, progress=lambda f: conn.send(("progress", f)))
        conn.send(("done", detection))
    except FoleyError as exc:
        conn.send(("error", exc))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        conn.send(("error", RuntimeError(f"analysis failed: {type(exc).__name__}: {exc}")))
    finally:
        conn.close()
        os._exit(0)


def detect_in_worker(detector: Any, info: Any, start_s: float, end_s: float,
                     progress: Callable[[float], None] | None, cancel: threading.Event,
                     after_fork: Callable[[], None] | None = None) -> Any:
    """Run ``detector.detect`` in a forked process; same result and errors as calling it directly.

    ``after_fork`` runs in this process once the worker exists (e.g. to start loading models that the
    worker must not inherit half-imported)."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, detector, info, start_s, end_s), daemon=True,
                       name="foley-analysis")
    proc.start()
    child.close()
    try:
        if after_fork is not None:
            after_fork()
        while True:
            if cancel.is_set():
                raise Cancelled("job cancelled")
            if not parent.poll(0.1):
                if not proc.is_alive() and not parent.poll(0):
                    raise RuntimeError(f"the analysis process ended unexpectedly (exit code {proc.exitcode})")
                continue
            try:
                kind, value = parent.recv()
            except EOFError:
                raise RuntimeError(f"the analysis process ended unexpectedly (exit code {proc.exitcode})") from None
            if kind == "progress":
                if progress is not None:
                    progress(value)
            elif kind == "done":
                return value
            else:
                raise value
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join(timeout=5)
        parent.close()
