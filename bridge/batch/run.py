"""One batch from reel to results: plan the shots, skip complete ones (resume), run the rest on workers,
then write the reel's combined timeline. Everything lands in one output folder::

    OUTDIR/<shot name>/   exactly what ``foley run`` writes for that shot
    OUTDIR/foley.otio     (timeline input) every clip at its record position; foley.xml/.aaf when asked
    OUTDIR/batch.json     every shot's outcome;  OUTDIR/progress.json  counts and time left
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bridge.batch.report import BATCH_FILE, TOOL, BatchReport
from bridge.batch.runners import Task, make_runner
from bridge.batch.shots import Reel, Shot, is_complete, read_reel
from bridge.errors import Cancelled, OutputError
from bridge.options import Options
from bridge.outdir import follow_umask

log = logging.getLogger("foley.batch")

#: Prefix of the folder the combined timeline is written in before its files move into place.
COMBINED_TMP = ".foley-batch.tmp-"


@dataclass
class BatchConfig:
    source: str
    output_dir: str | None = None
    options: Options = field(default_factory=Options)
    workers: int | None = None
    ray_address: str | None = None
    runner: str = "auto"  # "auto" (Ray when installed), "ray" or "pool"
    resume: bool = False


def default_output_dir(source: Path) -> Path:
    """``REEL.foley/`` beside a timeline file, ``FOLDER.foley/`` beside a folder."""
    return source.with_name((source.name if source.is_dir() else source.stem) + ".foley")


def check_batch_dir(outdir: Path) -> None:
    """Before any work: the batch folder must be new, empty or a previous batch's (its batch.json says so),
    and creatable."""
    import json

    if outdir.exists() and (outdir.is_symlink() or not outdir.is_dir()):
        raise OutputError(f"output path {str(outdir)!r} exists and is not a folder; choose another with -o")
    if outdir.is_dir() and any(outdir.iterdir()):
        try:
            ours = json.loads((outdir / BATCH_FILE).read_text(encoding="utf-8")).get("tool") == TOOL
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            first = sorted(p.name for p in outdir.iterdir())[0]
            raise OutputError(f"output folder {str(outdir)!r} already holds {first!r} and is not a foley batch "
                              "folder; choose a new or empty folder with -o")
    existing = outdir
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {str(outdir)!r} cannot be written ({str(existing)!r} is not a writable "
                          "folder); choose another with -o")


def make_batch_dir(outdir: Path) -> None:
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"output folder {str(outdir)!r} cannot be created: {exc.strerror}") from None


def sweep(outdir: Path, shots: list[Shot]) -> None:
    """Remove the temporary folders a stopped or killed worker leaves beside its shot's folder (the engine
    names them ``.<shot>.tmp-*``, ``.<shot>.old-*``) and this batch's own leftovers."""
    prefixes = tuple(f".{s.name}.{kind}-" for s in shots for kind in ("tmp", "old")) + (COMBINED_TMP,)
    for entry in outdir.iterdir():
        if entry.name.startswith(prefixes) and entry.is_dir() and not entry.is_symlink():
            log.info("removing leftover %s", entry)
            shutil.rmtree(entry, ignore_errors=True)


def write_combined(reel: Reel, outdir: Path, report: BatchReport, formats: list[str]) -> list[str]:
    """The combined timeline of the finished shots, its files renamed into ``outdir``; their paths."""
    from bridge.batch.combine import combined_timeline
    from bridge.timeline import write_exports

    folders = [(shot, outdir / shot.name) for shot, entry in zip(reel.shots, report.entries)
               if entry["status"] in ("ok", "skipped")]
    if not folders:
        return []
    timeline, rate = combined_timeline(reel, folders)
    tmp = Path(tempfile.mkdtemp(prefix=COMBINED_TMP, dir=outdir))
    try:
        names = write_exports(timeline, tmp, formats, rate)
        for name in names:
            follow_umask(tmp / name)
            os.replace(tmp / name, outdir / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [str(outdir / name) for name in names]


def run_batch(config: BatchConfig, echo: Callable[[str], None] | None = None,
              on_shot: Callable[[dict[str, Any]], None] | None = None,
              cancel: threading.Event | None = None) -> dict[str, Any]:
    """Run every shot of ``config.source``; the batch.json document. ``echo`` gets progress lines,
    ``on_shot`` each finished shot's entry. Ctrl-C or ``cancel`` stop the workers at once and raise
    :class:`Cancelled`; finished shots stay, nothing temporary is left."""
    from bridge.batch.combine import events_in

    say = echo or (lambda line: None)
    reel = read_reel(config.source)
    options = config.options.validate()
    source = Path(config.source).absolute()
    outdir = Path(config.output_dir).absolute() if config.output_dir else default_output_dir(source)
    runner = make_runner(config.runner, config.workers, config.ray_address, options.device, options.backend,
                         options.to_dict())
    check_batch_dir(outdir)
    report = BatchReport(outdir, reel, echo=say)
    tasks = []
    for i, shot in enumerate(reel.shots):
        folder = outdir / shot.name
        if config.resume and is_complete(folder, shot, options):
            report.skipped(i, folder, events_in(folder))
        else:
            tasks.append(Task(index=i, shot=shot.to_json(), output_dir=str(folder)))
    skipped = len(reel.shots) - len(tasks)
    what = f"{len(reel.shots)} shot{'s' * (len(reel.shots) != 1)} from {reel.kind} {str(source)!r}"
    if tasks:
        try:
            where = runner.start(len(tasks))  # a wrong address or a missing Ray: nothing written yet
            make_batch_dir(outdir)
            sweep(outdir, reel.shots)
            say(f"foley batch: {what}" + (f", {skipped} already complete" if skipped else "")
                + f"; running {len(tasks)} on {where}")
            report.begin(where, len(tasks))

            def finished(task: Task, summary: dict[str, Any]) -> None:
                report.finished(task.index, summary)
                if on_shot is not None:
                    on_shot(report.entries[task.index])

            runner.run(tasks, finished, cancel)
        except (KeyboardInterrupt, Cancelled) as exc:
            runner.cancel()
            runner.close()
            if not outdir.is_dir():
                raise Cancelled("batch cancelled before it started") from exc
            sweep(outdir, reel.shots)
            for shot, entry in zip(reel.shots, report.entries):
                folder = outdir / shot.name
                if entry["status"] != "pending":
                    continue
                if is_complete(folder, shot, options):  # finished in the moment before its worker stopped
                    entry.update(status="ok", events=events_in(folder), output_dir=str(folder))
                else:
                    entry.update(status="failed", error="cancelled before it finished")
            report.state = "cancelled"
            report.write()
            raise Cancelled(f"batch cancelled with {report.ran} of {len(tasks)} shots run; finished shots are "
                            f"in {str(outdir)!r}; run again with --resume to do the rest") from exc
        except Exception:  # the workers could not run at all: stop them, record it, say why (CLI)
            runner.cancel()
            if outdir.is_dir():
                sweep(outdir, reel.shots)
                report.state = "failed"
                report.write()
            raise
        finally:
            runner.close()
    else:
        say(f"foley batch: {what}; all complete, nothing to run")
    sweep(outdir, reel.shots)
    if reel.is_timeline:
        report.otio = write_combined(reel, outdir, report, options.formats)
    report.state = "done"
    report.write()
    return report.document()
