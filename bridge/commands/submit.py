"""``foley submit REQUEST.json``: the relay host scripts call.

Starts the daemon when none answers, sends the request, and keeps two files current (each rewritten
atomically) so a host without sockets (REAPER Lua, Resolve Lua) can poll them:

- progress: {"job", "state": starting|queued|running|done|failed, "stage", "fraction", "message"}
- result:   {"ok": true, "job", "otio", "events", "output_dir", "placements": [...], "tracks": [...]} or
            {"ok": false, "code", "message"}

``--cancel-file PATH``: when PATH appears the job is cancelled (the file is then removed).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from bridge import atomic
from bridge.commands.serve import DEFAULT_PORT
from bridge.errors import Cancelled, FoleyError

#: Seconds between two progress-file rewrites while a job runs (state changes are always written).
PROGRESS_FILE_INTERVAL_S = 0.1


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "submit", help="send a request to the daemon (starting it if needed) and wait for the result",
        description="Send REQUEST.json to the foley daemon, starting one in the background if none answers; "
                    "write progress and the result to files. Exit 0 on success.")
    p.add_argument("request", metavar="REQUEST.json")
    p.add_argument("--result", metavar="RESULT.json", help="write the result here (atomically)")
    p.add_argument("--progress", metavar="PROGRESS.json", help="keep the job's progress here (atomically)")
    p.add_argument("--cancel-file", metavar="PATH", help="cancel the job when this file appears")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"daemon port (default: {DEFAULT_PORT})")
    p.add_argument("--host", default="127.0.0.1", help="daemon address (default: 127.0.0.1)")
    p.add_argument("--timeout", type=float, metavar="S", help="cancel and fail if the job takes longer")
    p.add_argument("--no-start", action="store_true", help="fail instead of starting a daemon")
    p.add_argument("--start-timeout", type=float, default=120.0, metavar="S",
                   help="how long to wait for a daemon this command starts (default: 120)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="device for a daemon this command starts")
    p.add_argument("--allow", action="append", default=[], metavar="DIR",
                   help="extra allowed folder for a daemon this command starts; repeatable")
    p.add_argument("--json", action="store_true", help="print the result JSON on stdout")
    p.set_defaults(func=cmd_submit)


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Write JSON to a temp file beside ``path`` (its folder made when missing) and rename it into place."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(path, data)


class ProgressFile:
    def __init__(self, path: str | None) -> None:
        self.path = path
        self.job: str | None = None
        self._state = ""
        self._last = 0.0

    def update(self, state: str, stage: str, fraction: float, message: str) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        if state == self._state and now - self._last < PROGRESS_FILE_INTERVAL_S and fraction < 1.0:
            return
        self._state, self._last = state, now
        write_json(self.path, {"job": self.job, "state": state, "stage": stage,
                               "fraction": round(min(max(fraction, 0.0), 1.0), 4), "message": message})


def read_document(path: str) -> str:
    """The request as JSON text with every path made absolute (relative ones are from the file's folder)."""
    from bridge.request import parse_request, read_request_file

    file = Path(path).expanduser()
    data = read_request_file(file, path)
    parse_request(data)  # fail here, with the field named, before any daemon is started
    base = file.absolute().parent
    for item in data["items"]:
        item["path"] = str(base / Path(item["path"]).expanduser())
    if data.get("output_dir"):
        data["output_dir"] = str(base / Path(data["output_dir"]).expanduser())
    return json.dumps(data)


def result_document(job: str, result_path: str) -> dict[str, Any]:
    """The result file's content from the job's result.json, every path absolute."""
    try:
        result = json.loads(Path(result_path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FoleyError(f"job {job} finished but its result {result_path!r} cannot be read: {exc}") from None
    out_dir = Path(result.get("output_dir") or Path(result_path).parent)

    def absolute(p: str | None) -> str | None:
        return None if p is None else str(out_dir / p)

    placements = [dict(pl, path=absolute(pl.get("path"))) for pl in result.get("placements", [])]
    doc = {"ok": True, "job": job, "otio": absolute(result.get("otio")), "events": absolute(result.get("events")),
           "output_dir": str(out_dir), "placements": placements}
    if isinstance(result.get("tracks"), list):  # the ordered track list the host scripts create
        doc["tracks"] = result["tracks"]
    return doc


def cmd_submit(args: argparse.Namespace) -> int:
    progress = ProgressFile(args.progress)
    try:
        return _submit(args, progress)
    except FoleyError as exc:
        progress.update("failed", "error", 0.0, str(exc))
        if args.result:
            write_json(args.result, {"ok": False, "code": exc.code, "message": str(exc)})
        raise


def _submit(args: argparse.Namespace, progress: ProgressFile) -> int:
    from bridge.daemon.client import Connection, DaemonError, ensure_daemon, ping, run_job

    progress.update("starting", "connect", 0.0, "connecting to the foley daemon")
    document = read_document(args.request)
    if args.no_start:
        if ping(args.host, args.port) is None:
            raise DaemonError(f"no foley daemon answers on {args.host}:{args.port}; start one with `foley serve`",
                              code="unreachable")
    elif ping(args.host, args.port) is None:
        progress.update("starting", "daemon", 0.0, "starting the foley daemon (loads the models once)")
        extra = [*(["--device", args.device] if args.device else []), *sum((["--allow", d] for d in args.allow), [])]
        ensure_daemon(args.host, args.port, extra, timeout_s=args.start_timeout)

    cancel_file = Path(args.cancel_file) if args.cancel_file else None

    def cancel_requested() -> bool:
        if cancel_file is not None and cancel_file.exists():
            cancel_file.unlink(missing_ok=True)
            return True
        return False

    def on_update(job: str, state: str, stage: str, fraction: float, message: str) -> None:
        progress.job = job
        progress.update(state, stage, fraction, message)

    with Connection(args.host, args.port) as conn:
        outcome = run_job(conn, document, on_update, cancel_requested, args.timeout)
    progress.job = outcome.job
    if not outcome.ok:
        error = Cancelled(outcome.message) if outcome.code == Cancelled.code else DaemonError(outcome.message,
                                                                                              outcome.code)
        raise error
    if outcome.job is None or outcome.result_path is None:
        raise DaemonError("the daemon reported a finished job without its id or result path; see its log "
                          "(`foley status`) and submit again")
    doc = result_document(outcome.job, outcome.result_path)
    progress.update("done", "done", 1.0, f"{len(doc['placements'])} clips in {doc['output_dir']}")
    if args.result:
        write_json(args.result, doc)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"job {outcome.job}: {len(doc['placements'])} clips in {doc['output_dir']}")
    return 0
