"""Talking to the daemon: ping over UDP, everything else over one TCP (SLIP) connection.

``ensure_daemon`` starts one in the background when none answers, so a host script never meets a
"is the server running?" dead end.
"""
from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from bridge.daemon import protocol
from bridge.daemon.paths import daemon_log
from bridge.errors import FoleyError

log = logging.getLogger("foley.client")


class DaemonError(FoleyError):
    """The daemon cannot be reached, did not start, or answered with an error."""

    code = "daemon"
    exit_code = 3

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code


class Connection:
    """A TCP connection to the daemon carrying SLIP-framed OSC messages."""

    def __init__(self, host: str, port: int, timeout_s: float = 5.0) -> None:
        self.host, self.port = host, port
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout_s)
        except OSError as exc:
            raise DaemonError(f"cannot connect to the foley daemon at {host}:{port}: {exc.strerror or exc}",
                              code="unreachable") from None
        self._buffer = bytearray()
        self._pending: list[protocol.Message] = []

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, address: str, *args: Any) -> None:
        try:
            self.sock.sendall(protocol.slip_encode(protocol.encode(address, *args)))
        except OSError as exc:
            raise DaemonError(f"lost the connection to the foley daemon at {self.host}:{self.port}: {exc}",
                              code="disconnected") from None

    def receive(self, timeout_s: float) -> protocol.Message | None:
        """The next message, or None after ``timeout_s``. Raises DaemonError when the daemon hangs up."""
        deadline = time.monotonic() + timeout_s
        while not self._pending:
            for frame in protocol.split_frames(self._buffer):
                try:
                    self._pending.extend(protocol.decode(protocol.slip_decode(frame)))
                except protocol.ProtocolError as exc:
                    log.warning("ignored a malformed message from the daemon: %s", exc)
            if self._pending:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                return None
            except OSError as exc:
                raise DaemonError(f"lost the connection to the foley daemon: {exc}", code="disconnected") from None
            if not chunk:
                raise DaemonError(f"the foley daemon at {self.host}:{self.port} closed the connection",
                                  code="disconnected")
            self._buffer += chunk
        return self._pending.pop(0)

    def call(self, address: str, *args: Any, replies: Sequence[str], timeout_s: float = 10.0) -> protocol.Message:
        """Send one message and wait for a reply at one of ``replies``; ``/foley/error`` raises."""
        self.send(address, *args)
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            message = self.receive(max(0.0, left)) if left > 0 else None
            if message is None:
                raise DaemonError(f"the foley daemon did not answer {address} within {timeout_s:.0f} s",
                                  code="timeout")
            if message.address == protocol.ERROR:
                code, text = (list(message.args) + ["error", ""])[:2]
                raise DaemonError(str(text), code=str(code))
            if message.address in replies:
                return message


def ping(host: str, port: int, timeout_s: float = 0.5) -> str | None:
    """The daemon's version if one answers ``/foley/ping`` over UDP, else None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.sendto(protocol.encode(protocol.PING), (host, port))
            data, _ = sock.recvfrom(protocol.MAX_DATAGRAM)
            messages = protocol.decode(data)
        except (OSError, protocol.ProtocolError):
            return None
    for message in messages:
        if message.address == protocol.PONG and message.args:
            return str(message.args[0])
    return None


def serve_command(port: int, bind: str, extra: Sequence[str] = ()) -> list[str]:
    return [sys.executable, "-m", "bridge", "serve", "--port", str(port), "--bind", bind, *extra]


def start_daemon(port: int, bind: str, extra: Sequence[str] = ()) -> tuple[subprocess.Popen, Path]:
    """Start ``foley serve`` detached from this process; its output goes to the daemon log."""
    log_path = daemon_log(port)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = serve_command(port, bind, extra)
    kwargs: dict[str, Any] = {}
    if sys.platform == "win32":  # pragma: no cover
        kwargs["creationflags"] = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        kwargs["start_new_session"] = True
    with open(log_path, "ab") as out:
        out.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                close_fds=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}, **kwargs)
    log.info("started the foley daemon (pid %d) on %s:%d; log %s", proc.pid, bind, port, log_path)
    return proc, log_path


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def ensure_daemon(host: str, port: int, extra: Sequence[str] = (), timeout_s: float = 60.0) -> bool:
    """Make sure a daemon answers on ``host:port``; start one if not. True if this call started it."""
    if ping(host, port) is not None:
        return False
    proc, log_path = start_daemon(port, host, extra)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ping(host, port, timeout_s=0.2) is not None:
            return True
        if proc.poll() is not None:
            # Lost a start race to another daemon on the same port? Then that one answers.
            if ping(host, port, timeout_s=1.0) is not None:
                return False
            raise DaemonError(f"the foley daemon exited at start ({_log_tail(log_path)}); full log: {log_path}",
                              code="daemon_start")
        time.sleep(0.1)
    raise DaemonError(f"the foley daemon did not answer within {timeout_s:.0f} s of starting; see {log_path}",
                      code="daemon_start")


@dataclass
class Outcome:
    ok: bool
    job: str | None
    code: str = ""
    message: str = ""
    result_path: str | None = None


def run_job(conn: Connection, document: str, on_update: Callable[[str, str, str, float, str], None],
            cancel_requested: Callable[[], bool] = lambda: False, timeout_s: float | None = None) -> Outcome:
    """Submit a request and follow it to the end.

    ``on_update(job, state, stage, fraction, message)`` sees "queued" then "running" updates. When
    ``cancel_requested()`` turns true, ``/foley/cancel`` is sent once and the job's end awaited.
    """
    try:
        accepted = conn.call(protocol.SUBMIT, document, replies=(protocol.ACCEPTED,))
    except DaemonError as exc:
        return Outcome(False, None, exc.code, str(exc))
    job = str(accepted.args[0])
    on_update(job, "queued", "queued", 0.0, f"job {job} queued")
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    cancel_sent = False
    while True:
        wanted = not cancel_sent and cancel_requested()  # asked once: a cancel file is consumed when seen
        if not cancel_sent and (wanted or (deadline is not None and time.monotonic() > deadline)):
            timed_out = not wanted
            conn.send(protocol.CANCEL, job)
            cancel_sent = True
            if timed_out:
                return _await_end(conn, job, Outcome(False, job, "timeout",
                                                     f"job {job} took longer than {timeout_s:.0f} s; cancelled"))
        try:
            message = conn.receive(0.2)
        except DaemonError as exc:
            return Outcome(False, job, protocol.INTERRUPTED,
                           f"the daemon stopped while job {job} ran ({exc}); see its log and submit again")
        if message is None or message.args[:1] != (job,):
            continue
        if message.address == protocol.PROGRESS and len(message.args) >= 3:
            on_update(job, "running", str(message.args[1]), float(message.args[2]), "")
        elif message.address == protocol.DONE:
            return Outcome(True, job, result_path=str(message.args[1]))
        elif message.address == protocol.FAILED:
            code, text = (list(message.args[1:]) + ["error", ""])[:2]
            return Outcome(False, job, str(code), str(text))


def _await_end(conn: Connection, job: str, fallback: Outcome, wait_s: float = 5.0) -> Outcome:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            message = conn.receive(0.2)
        except DaemonError:
            break
        if message is not None and message.args[:1] == (job,) and message.address in (protocol.DONE, protocol.FAILED):
            break
    return fallback
