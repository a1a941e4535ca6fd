"""The job journal: append-only JSON lines, one fsync'd line per state change.

Replaying it after a crash tells which jobs were queued or running when the daemon died; those are
reported failed with code ``interrupted`` instead of silently vanishing.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from bridge import atomic

log = logging.getLogger("foley.journal")

#: States a job can be left in when the daemon dies.
UNFINISHED = ("queued", "running")


class Journal:
    """Append-only log of job records ``{"job", "t", "state", ...}``; the last line per job wins."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8")

    def append(self, job: str, state: str, **fields: Any) -> None:
        record = {"job": job, "t": round(time.time(), 3), "state": state, **fields}
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        with self._lock:
            self._file.close()


def replay(path: Path) -> dict[str, dict[str, Any]]:
    """Merge a journal's lines into one record per job (in first-seen order).

    A torn last line (the daemon killed mid-write) is skipped with a warning.
    """
    jobs: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return jobs
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
                job = record["job"]
            except (json.JSONDecodeError, KeyError, TypeError):
                log.warning("journal %s line %d is damaged; skipped", path, n)
                continue
            jobs.setdefault(job, {}).update(record)
    return jobs


def compact(path: Path, jobs: dict[str, dict[str, Any]], keep: int = 500) -> None:
    """Rewrite the journal with one line per job, the newest ``keep`` jobs only (atomic replace)."""
    recent = list(jobs.values())[-keep:]
    atomic.write_text(path, "".join(json.dumps(record, separators=(",", ":")) + "\n" for record in recent),
                      fsync=True)


def unfinished(jobs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in jobs.values() if r.get("state") in UNFINISHED]
