"""A batch worker: one warm Engine (models loaded once) that runs shot after shot exactly as ``foley run``.

The same class serves as a Ray actor (``ray.remote(ShotWorker)``) and inside a local process pool.
"""
from __future__ import annotations

import logging
import os
import resource
import socket
import time
from typing import Any

from bridge.errors import FoleyError
from bridge.options import Options

log = logging.getLogger("foley.batch.worker")


def rss_mb() -> float:
    """This process's resident memory now (MiB); its peak where /proc is missing."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ShotWorker:
    """Holds one Engine for ``device`` and ``backend``; ``run_shot`` never raises for a bad shot."""

    def __init__(self, device: str = "auto", backend: str = "synth") -> None:
        from bridge.api import shared_engine

        self.id = f"{socket.gethostname()}:{os.getpid()}"
        # The same engine `foley run` makes, kept warm: models load in the background from here on.
        self.engine = shared_engine(device, (backend,))

    def ping(self) -> str:
        return self.id

    def run_shot(self, shot: dict[str, Any], options: dict[str, Any], output_dir: str) -> dict[str, Any]:
        """Run one shot into ``output_dir``; a summary for batch.json (``status`` "ok" or "failed")."""
        from bridge.api import Project

        started = time.monotonic()
        summary: dict[str, Any] = {"worker": self.id, "output_dir": output_dir, "events": None, "error": None}
        try:
            opts = Options.from_dict(options)
            span = None
            if shot.get("source_in_s") is not None and shot.get("source_out_s") is not None:
                span = (float(shot["source_in_s"]), float(shot["source_out_s"]))
            result = Project(shot["path"], engine=self.engine).generate(opts, span=span, output_dir=output_dir)
            summary.update(status="ok", events=len(result.events))
        except FoleyError as exc:
            summary.update(status="failed", error=str(exc))
        except Exception as exc:  # a shot must not take its worker down; name the cause
            log.exception("shot %s failed", shot.get("name"))
            summary.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        summary.update(seconds=round(time.monotonic() - started, 3), rss_mb=round(rss_mb(), 1))
        return summary
