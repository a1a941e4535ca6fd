"""Helpers for the daemon tests: free ports, a real daemon in a subprocess, tiny videos, OSC I/O."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from bridge.daemon import protocol
from bridge.daemon.client import Connection, ping
from bridge.daemon.warmup import write_clip

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


def free_port() -> int:
    """A port free for both UDP and TCP on loopback."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((HOST, 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((HOST, port))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free port")


def daemon_env(root: Path) -> dict[str, str]:
    """Environment that keeps a daemon's journal, logs and default outputs under ``root``."""
    env = dict(os.environ)
    env["FOLEY_STATE_DIR"] = str(root / "state")
    env["FOLEY_OUTPUT_ROOT"] = str(root / "outputs")
    env["FOLEY_BRIDGE_DATA"] = str(root / "data")  # the sound-library index
    env["PYTHONUNBUFFERED"] = "1"
    return env


def tiny_video(path: Path, seconds: float = 1.0) -> Path:
    """A small real H.264 clip (160x96, 25 fps) with one falling block that hits the floor."""
    return write_clip(path, seconds=seconds)


class DaemonProcess:
    """``python -m bridge serve`` in a subprocess, stopped with SIGTERM (or SIGKILL) by the test."""

    def __init__(self, root: Path, port: int | None = None, args: tuple[str, ...] = ()) -> None:
        self.root = root
        self.port = port or free_port()
        self.args = args
        self.proc: subprocess.Popen | None = None
        self.log = root / f"daemon-{self.port}.out"

    def start(self, timeout_s: float = 60.0) -> "DaemonProcess":
        self.root.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "bridge", "serve", "--port", str(self.port), "--allow", str(self.root),
               *self.args]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=daemon_env(self.root), stdout=out,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ping(HOST, self.port, timeout_s=0.2) is not None:
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited at start:\n{self.log.read_text()}")
            time.sleep(0.05)
        raise RuntimeError(f"daemon did not answer:\n{self.log.read_text()}")

    def wait_ready(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """Wait until the engine is loaded and warmed; returns /foley/models."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with Connection(HOST, self.port) as conn:
                info = json.loads(conn.call(protocol.MODELS, replies=(protocol.MODELS,)).args[0])
            if info["state"] != "loading":
                return info
            time.sleep(0.1)
        raise RuntimeError("engine did not load")

    def stop(self, timeout_s: float = 30.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout_s)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def udp_exchange(port: int, data: bytes, timeout_s: float = 5.0) -> protocol.Message:
    """Send one raw datagram, return the first reply message."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout_s)
        sock.sendto(data, (HOST, port))
        reply, _ = sock.recvfrom(protocol.MAX_DATAGRAM)
    return protocol.decode(reply)[0]


def follow(receive: Callable[[float], protocol.Message | None], job: str,
           timeout_s: float = 60.0) -> list[protocol.Message]:
    """Messages about ``job`` until its /foley/done or /foley/failed (inclusive)."""
    seen: list[protocol.Message] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = receive(0.5)
        if message is None or message.args[:1] != (job,):
            continue
        seen.append(message)
        if message.address in (protocol.DONE, protocol.FAILED):
            return seen
    raise AssertionError(f"job {job} did not finish in {timeout_s} s; saw {seen[-3:]}")


def wait_for(predicate: Callable[[], Any], timeout_s: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def leftovers(folder: Path) -> list[Path]:
    """Engine temp/old folders (``.NAME.tmp-*``, ``.NAME.old-*``) under ``folder``."""
    return [p for p in folder.rglob(".*") if ".tmp-" in p.name or ".old-" in p.name]


class UdpClient:
    """A UDP socket that submits and then hears the job's messages at its own address."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))

    def send(self, address: str, *args: Any) -> None:
        self.sock.sendto(protocol.encode(address, *args), (HOST, self.port))

    def receive(self, timeout_s: float) -> protocol.Message | None:
        self.sock.settimeout(timeout_s)
        try:
            data, _ = self.sock.recvfrom(protocol.MAX_DATAGRAM)
        except socket.timeout:
            return None
        return protocol.decode(data)[0]

    def close(self) -> None:
        self.sock.close()
