"""Event detection in a forked worker process, for a cold start.

On a cold ``foley run`` the sound models (torch) load while the video is analysed. In one process
both compete for the interpreter lock; in a forked worker the analysis runs truly in parallel with
the import. The worker is forked before any model loads, sends progress and its Detection back
through a pipe, and is terminated on cancel. Given a colour frame store (:class:`models.stills.FrameStore`),
the worker's decoding pass keeps the frames the store wants and sends each one (a small JPEG) through the
same pipe as it is taken, so the store fills in this process while the worker decodes: the picture models
here read them without decoding the video again. Only used where ``fork`` exists (Linux, macOS with
care: we use it on Linux only) and never in the daemon, whose models are already loaded.
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
from typing import Any, Callable

from bridge.errors import Cancelled, FoleyError

log = logging.getLogger("foley.analysis")


def available() -> bool:
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def _child(conn: Any, detector: Any, info: Any, start_s: float, end_s: float,
           keep: dict[str, Any] | None) -> None:
    # The parent's handlers (SIGTERM/SIGHUP unwinding like Ctrl-C) were inherited by the fork. Here they
    # would turn the parent's ``terminate()`` into a traceback on the user's terminal: this process ends
    # quietly on SIGTERM/SIGHUP, and leaves Ctrl-C to the parent, which cancels and terminates it.
    for name, action in (("SIGTERM", signal.SIG_DFL), ("SIGHUP", signal.SIG_DFL), ("SIGINT", signal.SIG_IGN)):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), action)
    lock = threading.Lock()  # the decoding thread sends frames, this one progress and the result

    def send(message: tuple) -> None:
        with lock:
            conn.send(message)

    try:
        if hasattr(detector, "fresh"):
            detector = detector.fresh()  # models the parent loaded (their threads) do not survive the fork
        with contextlib.ExitStack() as stack:
            if keep is not None:
                from models.stills import FrameRelay
                from models.video import keeping

                stack.enter_context(keeping(FrameRelay(lambda t, data: send(("frame", t, data)), **keep)))
            detection = detector.detect(info, start_s, end_s, progress=lambda f: send(("progress", f)))
        send(("done", detection))
    except FoleyError as exc:
        send(("error", exc))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        send(("error", RuntimeError(f"analysis failed: {type(exc).__name__}: {exc}")))
    finally:
        conn.close()
        os._exit(0)


def detect_in_worker(detector: Any, info: Any, start_s: float, end_s: float,
                     progress: Callable[[float], None] | None, cancel: threading.Event,
                     after_fork: Callable[[], None] | None = None, keep: Any = None) -> Any:
    """Run ``detector.detect`` in a forked process; same result and errors as calling it directly.

    ``after_fork`` runs in this process once the worker exists (e.g. to start loading models that the
    worker must not inherit half-imported). ``keep``: a :class:`models.stills.FrameStore` of this span,
    filled from the worker's decoding pass as it goes and closed when it ends (or this call fails)."""
    from models.stills import store_settings

    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    settings = store_settings(keep) if keep is not None else None
    proc = ctx.Process(target=_child, args=(child, detector, info, start_s, end_s, settings), daemon=True,
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
                kind, *values = parent.recv()
                value = values[0] if len(values) == 1 else values
            except EOFError:
                raise RuntimeError(f"the analysis process ended unexpectedly (exit code {proc.exitcode})") from None
            if kind == "frame":
                t, data = value
                if t is None:
                    keep.close()
                else:
                    keep.add_encoded(t, data)
            elif kind == "progress":
                if progress is not None:
                    progress(value)
            elif kind == "done":
                return value
            else:
                raise value
    finally:
        if keep is not None:
            keep.close()
        if proc.is_alive():
            proc.terminate()
        proc.join(timeout=5)
        parent.close()
