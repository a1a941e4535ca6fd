"""Daemon latency: OSC ping round trips (UDP and TCP) and a warm daemon job against a cold ``foley run``.

    .venv/bin/python bench/latency.py [--pings 1000] [--seconds 10] [--repeats 3]

Starts a real daemon in a subprocess (state in a temp folder), renders a synthetic clip of
``--seconds`` (640x360, 30 fps), then prints ping p50/p99 in milliseconds, the warm job time (submit
to /foley/done, median of ``--repeats``), the cold ``foley run`` time of the same clip (a fresh
process each time: imports, model load, job) and their ratio (target: warm <= 0.3x cold).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.daemon import protocol  # noqa: E402
from bridge.daemon.client import Connection  # noqa: E402
from bridge.demo_video import make_demo_video  # noqa: E402
from tests.daemon_utils import HOST, DaemonProcess  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def udp_pings(port: int, n: int) -> list[float]:
    times = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        ping = protocol.encode(protocol.PING)
        for _ in range(n):
            t = time.perf_counter()
            sock.sendto(ping, (HOST, port))
            data, _ = sock.recvfrom(protocol.MAX_DATAGRAM)
            times.append(time.perf_counter() - t)
            assert protocol.decode(data)[0].address == protocol.PONG
    return times


def tcp_pings(port: int, n: int) -> list[float]:
    times = []
    with Connection(HOST, port) as conn:
        for _ in range(n):
            t = time.perf_counter()
            conn.call(protocol.PING, replies=(protocol.PONG,))
            times.append(time.perf_counter() - t)
    return times


def warm_job(port: int, clip: Path, out: Path) -> float:
    with Connection(HOST, port) as conn:
        t = time.perf_counter()
        job = conn.call(protocol.SUBMIT, json.dumps({"items": [{"path": str(clip)}], "output_dir": str(out)}),
                        replies=(protocol.ACCEPTED,)).args[0]
        while True:
            message = conn.receive(60.0)
            if message is not None and message.args[:1] == (job,) and message.address in (protocol.DONE,
                                                                                            protocol.FAILED):
                break
        elapsed = time.perf_counter() - t
    if message.address != protocol.DONE:
        raise SystemExit(f"warm job failed: {message.args}")
    return elapsed


def cold_run(clip: Path, out: Path, env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bridge", "run", str(clip), "-o", str(out), "--json"], cwd=REPO,
                   env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pings", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="foley-latency-") as tmp:
        root = Path(tmp)
        clip = root / "clip.mp4"
        make_demo_video(clip, seconds=args.seconds)
        daemon = DaemonProcess(root / "daemon", args=("--allow", str(root))).start()
        try:
            started = time.perf_counter()
            info = daemon.wait_ready(timeout_s=300)
            print(f"daemon ready on {info.get('device')} ({time.perf_counter() - started:.2f} s after first pong)")
            for name, fn in (("UDP", udp_pings), ("TCP", tcp_pings)):
                fn(daemon.port, 20)  # connection/thread warm-up
                t = fn(daemon.port, args.pings)
                print(f"ping {name}: p50 {1000 * statistics.median(t):.3f} ms  p99 {1000 * percentile(t, 0.99):.3f} ms"
                      f"  ({args.pings} round trips)")
            warm = [warm_job(daemon.port, clip, root / f"warm{i}") for i in range(args.repeats)]
        finally:
            daemon.stop()
        env = dict(os.environ)
        cold = [cold_run(clip, root / f"cold{i}", env) for i in range(args.repeats)]
    w, c = statistics.median(warm), statistics.median(cold)
    print(f"{args.seconds:.0f} s clip: warm daemon job {w:.3f} s (runs: {', '.join(f'{x:.3f}' for x in warm)})")
    print(f"{args.seconds:.0f} s clip: cold `foley run` {c:.3f} s (runs: {', '.join(f'{x:.3f}' for x in cold)})")
    print(f"warm / cold = {w / c:.2f}x (target <= 0.30x)")


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
