"""A batch's record: ``batch.json`` (every shot's outcome) and ``progress.json`` (counts and time left),
rewritten atomically as shots finish, and one terminal line per finished shot through ``echo``."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from bridge.atomic import write_json
from bridge.batch.shots import Reel, Shot

BATCH_FILE = "batch.json"
PROGRESS_FILE = "progress.json"
TOOL = "foley-bridge batch"


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class BatchReport:
    """Keeps the per-shot entries and the counters; writes both files after every change."""

    def __init__(self, outdir: Path, reel: Reel, echo: Callable[[str], None] | None = None) -> None:
        self.outdir, self.reel, self.echo = outdir, reel, echo or (lambda line: None)
        self.entries: list[dict[str, Any]] = [self._entry(s) for s in reel.shots]
        self.runner = ""
        self.state = "starting"
        self.started = time.monotonic()
        self.to_run = 0
        self.ran = 0
        self.otio: list[str] = []

    @staticmethod
    def _entry(shot: Shot) -> dict[str, Any]:
        entry: dict[str, Any] = {"shot": shot.name, "path": shot.path, "status": "pending", "events": None,
                                 "seconds": None, "worker": None, "output_dir": None, "error": None}
        if shot.span is not None:
            entry.update(range_s=list(shot.span), record_in_s=shot.record_in_s)
        return entry

    def count(self, status: str) -> int:
        return sum(1 for e in self.entries if e["status"] == status)

    def skipped(self, index: int, output_dir: Path, events: int) -> None:
        self.entries[index].update(status="skipped", events=events, output_dir=str(output_dir))

    def begin(self, runner: str, to_run: int) -> None:
        self.runner, self.to_run, self.state = runner, to_run, "running"
        self.started = time.monotonic()
        self.write()

    def eta_s(self) -> float | None:
        left = self.to_run - self.ran
        if left <= 0:
            return 0.0
        if self.ran == 0:
            return None
        return (time.monotonic() - self.started) / self.ran * left

    def finished(self, index: int, summary: dict[str, Any]) -> None:
        entry = self.entries[index]
        for key in ("status", "events", "seconds", "worker", "output_dir", "error"):
            entry[key] = summary.get(key)
        if "rss_mb" in summary:
            entry["worker_rss_mb"] = summary["rss_mb"]
        self.ran += 1
        self.write()
        eta = self.eta_s()
        what = f"{entry['events']} events" if entry["status"] == "ok" else f"FAILED: {entry['error']}"
        tail = f"{self.count('failed')} failed, " if self.count("failed") else ""
        left = "done" if eta == 0 else (f"about {clock(eta)} left" if eta is not None else "")
        where = f" ({entry['seconds']:.1f} s on {entry['worker']})" if entry["seconds"] is not None else ""
        self.echo(f"[{self.ran}/{self.to_run}] {entry['shot']}: {what}{where}  {tail}{left}".rstrip())

    def progress(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self.started
        eta = self.eta_s()
        return {"state": self.state, "total": len(self.entries), "to_run": self.to_run, "ran": self.ran,
                "ok": self.count("ok"), "failed": self.count("failed"), "skipped": self.count("skipped"),
                "pending": self.count("pending"), "elapsed_s": round(elapsed, 1),
                "eta_s": None if eta is None else round(eta, 1),
                "shots_per_minute": round(60.0 * self.ran / elapsed, 2) if self.ran and elapsed > 0 else None,
                "runner": self.runner, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z")}

    def document(self) -> dict[str, Any]:
        return {"tool": TOOL, "version": 1, "input": str(self.reel.source), "kind": self.reel.kind,
                "name": self.reel.name, "state": self.state, "runner": self.runner, "output_dir": str(self.outdir),
                "otio": self.otio, "shots": self.entries}

    def write(self) -> None:
        write_json(self.outdir / BATCH_FILE, self.document())
        write_json(self.outdir / PROGRESS_FILE, self.progress())
