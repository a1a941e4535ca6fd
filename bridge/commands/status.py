"""``foley status [JOB]``: what the daemon is doing, or one job's state."""
from __future__ import annotations

import argparse
import json

from bridge.commands.serve import DEFAULT_PORT


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("status", help="show the daemon's state or one job's",
                              description="Ask the running daemon for its state (or JOB's) and print it.")
    p.add_argument("job", nargs="?", metavar="JOB", help="a job id from `foley submit` or the daemon log")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"daemon port (default: {DEFAULT_PORT})")
    p.add_argument("--host", default="127.0.0.1", help="daemon address (default: 127.0.0.1)")
    p.add_argument("--json", action="store_true", help="print the raw JSON answer")
    p.set_defaults(func=cmd_status)


def _not_running(args: argparse.Namespace) -> int:
    from bridge.daemon.client import DaemonError

    raise DaemonError(f"no foley daemon answers on {args.host}:{args.port}; start one with `foley serve "
                      f"--port {args.port}` (`foley submit` starts one by itself)", code="unreachable")


def cmd_status(args: argparse.Namespace) -> int:
    from bridge.daemon import protocol
    from bridge.daemon.client import Connection, ping

    if ping(args.host, args.port) is None:
        return _not_running(args)
    with Connection(args.host, args.port) as conn:
        reply = conn.call(protocol.STATUS, *([args.job] if args.job else []), replies=(protocol.STATUS,))
        models = None if args.job else conn.call(protocol.MODELS, replies=(protocol.MODELS,))
    data = json.loads(reply.args[0])
    if args.json:
        if models is not None:
            data["models"] = json.loads(models.args[0])
        print(json.dumps(data, indent=2))
        return 0
    if args.job:
        line = f"job {data['job']}: {data['state']}"
        if data.get("state") == "running":
            line += f" ({data.get('stage')}, {100 * float(data.get('fraction') or 0):.0f}%)"
        if data.get("code"):
            line += f" [{data['code']}] {data.get('message', '')}"
        elif data.get("result_path"):
            line += f" -> {data['result_path']}"
        print(line)
        return 0
    assert models is not None  # asked for whenever no job is named
    info = json.loads(models.args[0])
    print(f"foley daemon {data['version']} pid {data['pid']} on {data['bind']}:{data['port']}: {data['state']}, "
          f"device {info.get('device', '?')}, up {data['uptime_s']:.0f} s")
    print(f"running: {data['running'] or '-'}; queued: {len(data['queued'])}")
    for job in data["jobs"][-10:]:
        print(f"  {job['job']}  {job['state']:<8} {job.get('code') or ''} {job.get('output_dir')}")
    for folder in data["watch"]:
        print(f"watching: {folder}")
    return 0
