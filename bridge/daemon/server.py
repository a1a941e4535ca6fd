"""The daemon: OSC over UDP and TCP (SLIP, OSC 1.1) on one port, a journaled job queue, watch folders.

Handlers validate and enqueue, then answer at once; the engine runs on the queue's worker thread.
Every dropped or rejected packet is logged and, where the sender can be reached, answered with
``/foley/error code message``.
"""
from __future__ import annotations

import errno
import ipaddress
import json
import logging
import os
import select
import shutil
import signal
import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bridge import __version__
from bridge.daemon import protocol
from bridge.daemon.jobs import Job, JobQueue, new_job_id
from bridge.daemon.journal import Journal, compact, replay, unfinished
from bridge.daemon.paths import AllowedRoots, output_root, state_dir
from bridge.errors import FoleyError, InputError, PermissionDenied
from bridge.outdir import safe_name
from bridge.request import Request, decode_request_text, parse_request, read_request_file

log = logging.getLogger("foley.server")

#: Seconds a TCP peer may stall our sends before it is dropped (keeps a stuck client from blocking jobs).
SEND_TIMEOUT_S = 5


#: How often the main thread wakes to run signal handlers (seconds).
MAIN_LOOP_TICK_S = 0.2
#: Most TCP connections served at once; more are answered ``/foley/error busy`` and closed. Also
#: kept under a quarter of the open-file limit (256 on macOS by default), so files stay openable.
MAX_TCP_CONNECTIONS = 64
#: Seconds a TCP connection may stay silent before it is closed, unless a job of its own still runs.
IDLE_TIMEOUT_S = 120.0
#: Error code of a connection refused because the daemon already serves MAX_TCP_CONNECTIONS.
BUSY = "busy"


def connection_cap(limit: int = MAX_TCP_CONNECTIONS) -> int:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # pragma: no cover - Windows
        return limit
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return limit
    return max(4, min(limit, soft // 4))


@dataclass
class DaemonConfig:
    port: int = 9000
    bind: str = "127.0.0.1"
    device: str = "auto"
    backends: tuple[str, ...] = ("auto",)
    watch: list[Path] = field(default_factory=list)
    allow: list[Path] = field(default_factory=list)
    allow_remote: bool = False
    drain_timeout_s: float = 30.0
    warm: bool = True
    library_watch: bool = True  # keep the sound-library index current while serving
    library_db: Path | None = None  # default: the user's index (models.library.default_db_path)
    idle_timeout_s: float = IDLE_TIMEOUT_S
    max_connections: int = MAX_TCP_CONNECTIONS


# -- peers ----------------------------------------------------------------------------------------
class UdpPeer:
    """A UDP sender; replies and job messages go back to its address from the server socket."""

    def __init__(self, sock: socket.socket, address: tuple) -> None:
        self.sock, self.address = sock, address

    def send(self, address: str, *args: Any) -> None:
        self.sock.sendto(protocol.encode(address, *args), self.address)

    def __repr__(self) -> str:
        return f"udp:{self.address[0]}:{self.address[1]}"


class TcpPeer:
    """A TCP connection; messages are SLIP-framed. ``send`` raises OSError once it is closed."""

    def __init__(self, sock: socket.socket, address: tuple) -> None:
        self.sock, self.address = sock, address
        self.closed = False
        self._lock = threading.Lock()
        self.jobs: list[Any] = []  # jobs submitted on this connection (it is not idle while one runs)

    def busy(self) -> bool:
        return any(job.state not in ("done", "failed") for job in self.jobs)

    def send(self, address: str, *args: Any) -> None:
        if self.closed:
            raise ConnectionError("connection closed")
        data = protocol.slip_encode(protocol.encode(address, *args))
        with self._lock:
            self.sock.sendall(data)

    def __repr__(self) -> str:
        return f"tcp:{self.address[0]}:{self.address[1]}"


class _UdpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        self.server.daemon.dispatch(data, UdpPeer(sock, self.client_address))  # type: ignore[attr-defined]


class _TcpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        daemon: Daemon = self.server.daemon  # type: ignore[attr-defined]
        sock: socket.socket = self.request
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", SEND_TIMEOUT_S, 0))
        except (OSError, struct.error):
            pass
        peer = TcpPeer(sock, self.client_address)
        buffer = bytearray()
        idle_s = daemon.config.idle_timeout_s
        last = time.monotonic()
        try:
            while True:
                try:
                    # Wait in select, not with a socket timeout: that would also cut the sends of job
                    # messages, made from other threads, short.
                    if not _wait_readable(sock, min(1.0, idle_s)):
                        if time.monotonic() - last >= idle_s and not peer.busy():
                            log.info("closing %s: silent for %.0f s with no job running", peer, idle_s)
                            break
                        continue
                    chunk = sock.recv(65536)
                except (OSError, ValueError):  # ValueError: closed meanwhile
                    break
                if not chunk:
                    break
                last = time.monotonic()
                buffer += chunk
                for frame in protocol.split_frames(buffer):
                    try:
                        packet = protocol.slip_decode(frame)
                    except protocol.ProtocolError as exc:
                        daemon.reject(peer, exc)
                        continue
                    daemon.dispatch(packet, peer)
                if len(buffer) > protocol.MAX_FRAME:
                    daemon.reject(peer, protocol.ProtocolError(
                        f"frame over {protocol.MAX_FRAME} bytes without a SLIP END; closing the connection"))
                    break
        finally:
            peer.closed = True
            self.server.release()  # type: ignore[attr-defined]


def _wait_readable(sock: socket.socket, timeout_s: float) -> bool:
    """Whether ``sock`` has data (or EOF) within ``timeout_s``; poll() where there is one (no fd limit)."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(timeout_s * 1000))
    readable, _, _ = select.select([sock], [], [], timeout_s)
    return bool(readable)


class _UdpServer(socketserver.UDPServer):
    max_packet_size = protocol.MAX_DATAGRAM
    allow_reuse_address = False


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 64

    def __init__(self, address: tuple, handler: type, cap: int) -> None:
        self.cap = cap
        self.active = 0
        self._count_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._count_lock:
            full = self.active >= self.cap
            if not full:
                self.active += 1
        if not full:
            super().process_request(request, client_address)
            return
        log.warning("refused a TCP connection from %s: already serving %d connections", client_address, self.cap)
        try:
            request.settimeout(0.5)
            request.sendall(protocol.slip_encode(protocol.encode(
                protocol.ERROR, BUSY, f"the foley daemon already serves {self.cap} connections; close idle "
                "ones or retry later")))
        except OSError:
            pass
        self.shutdown_request(request)

    def release(self) -> None:
        with self._count_lock:
            self.active -= 1


def _family(host: str) -> socket.AddressFamily:
    """The address family of ``host`` (IPv6 for '::1'); FoleyError when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise FoleyError(f"bind address {host!r} does not resolve: {exc.strerror}; pass an IP address "
                         "such as 127.0.0.1 or ::1") from None
    return infos[0][0]


def is_loopback(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def clean_leftovers(output_dir: Path) -> int:
    """Remove the engine's temp/old folders beside ``output_dir`` (left by a killed job)."""
    removed = 0
    parent = output_dir.parent
    if not parent.is_dir():
        return 0
    for pattern in (f".{output_dir.name}.tmp-*", f".{output_dir.name}.old-*"):
        for path in parent.glob(pattern):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
            log.info("removed leftover %s", path)
    return removed


class Daemon:
    """Binds the sockets, recovers the journal, owns the job queue and the watch folders."""

    def __init__(self, config: DaemonConfig, engine_factory: Callable[[], Any] | None = None) -> None:
        if not config.allow_remote and not is_loopback(config.bind):
            raise PermissionDenied(
                f"bind address {config.bind!r} is not loopback; anyone on that network could run jobs and "
                "read files. Pass --allow-remote to bind it anyway")
        self.config = config
        self.state_dir = state_dir()
        self.output_root = output_root()
        self.allowed = AllowedRoots.default([*config.allow, *config.watch])
        self._engine_factory = engine_factory or self._make_engine
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.watchers: list[Any] = []
        self.queue: JobQueue | None = None
        self._lock_file: Any = None
        self._stop_library_watch: Callable[[], None] | None = None
        self.started = time.time()
        self.udp: _UdpServer | None = None
        self.tcp: _TcpServer | None = None
        self._handlers: dict[str, Callable[[Any, protocol.Message], tuple | None]] = {
            protocol.PING: self._on_ping, protocol.SUBMIT: self._on_submit, protocol.CANCEL: self._on_cancel,
            protocol.STATUS: self._on_status, protocol.MODELS: self._on_models,
        }

    # -- lifecycle --------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.config.port

    @property
    def jobs(self) -> JobQueue:
        """The job queue; it exists once :meth:`start` has run."""
        if self.queue is None:
            raise FoleyError(f"the daemon on port {self.config.port} has no job queue yet; call start() first")
        return self.queue

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        family = _family(self.config.bind)
        udp_cls = type("_UdpServerOn", (_UdpServer,), {"address_family": family})
        tcp_cls = type("_TcpServerOn", (_TcpServer,), {"address_family": family})
        try:
            self.udp = udp_cls((self.config.bind, self.config.port), _UdpHandler)
            port = self.udp.server_address[1]
            try:
                self.tcp = tcp_cls((self.config.bind, port), _TcpHandler, connection_cap(self.config.max_connections))
            except OSError:
                self.udp.server_close()
                raise
        except OSError as exc:
            where = f"{self.config.bind}:{self.config.port}"
            if exc.errno == errno.EADDRINUSE:
                raise FoleyError(f"cannot listen on {where}: the port is in use; is another daemon running "
                                 f"(`foley status --port {self.config.port}`)? Pick another --port") from None
            raise FoleyError(f"cannot listen on {where}: {exc.strerror or exc}; pass an address of this "
                             "machine with --bind (127.0.0.1 or ::1)") from None
        self.config.port = port
        try:
            self._take_lock()
        except FoleyError:
            self.udp.server_close()
            self.tcp.server_close()
            raise
        self.udp.daemon = self.tcp.daemon = self  # type: ignore[attr-defined,union-attr]
        journal_path = self.state_dir / f"journal-{port}.jsonl"
        history = self._recover(journal_path)
        self.queue = JobQueue(Journal(journal_path), self._engine_factory,
                              self._warm_up if self.config.warm else None, history)
        self.queue.start()
        for server, name in ((self.udp, "udp"), (self.tcp, "tcp")):
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                      name=f"foley-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        for folder in self.config.watch:
            from bridge.daemon.watch import FolderWatch

            watcher = FolderWatch(Path(folder), self)
            watcher.start()
            self.watchers.append(watcher)
        if self.config.library_watch:
            self._start_library_watch()
        log.info("foley daemon %s listening on %s:%d (UDP and TCP), pid %d, state in %s", __version__,
                 self.config.bind, port, os.getpid(), self.state_dir)

    def _start_library_watch(self) -> None:
        """Watch the folders of the sound-library index, when there is one, so it stays current."""
        from models.library import LibraryIndex, default_db_path, start_watcher

        db = self.config.library_db or default_db_path()
        if not Path(db).is_file():
            return
        try:
            index = LibraryIndex(db)
            roots = [r["path"] for r in index.list_roots()]
            if roots:
                self._stop_library_watch = start_watcher(index, roots)
                log.info("watching %d sound-library folder(s) for changes", len(roots))
        except FoleyError as exc:
            log.warning("sound-library index not watched: %s", exc)

    def _take_lock(self) -> None:
        path = self.state_dir / f"daemon-{self.config.port}.lock"
        fh = open(path, "a+", encoding="utf-8")
        try:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - Windows: rely on the port bind
            pass
        except OSError:
            fh.close()
            raise FoleyError(f"another foley daemon already uses port {self.config.port} with state folder "
                             f"{self.state_dir}; stop it (`foley status` shows its pid) "
                             "or pick another --port") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._lock_file = fh

    def _recover(self, journal_path: Path) -> dict[str, dict[str, Any]]:
        """Report jobs a previous run left unfinished as failed ('interrupted'); clean their temp folders."""
        records = replay(journal_path)
        for record in unfinished(records):
            was = record.get("state")
            record.update(state="failed", code=protocol.INTERRUPTED, t=round(time.time(), 3),
                          message=f"the daemon stopped (killed or crashed) while this job was {was}; "
                                  "its partial output was removed; submit it again")
            log.warning("job %s was %s when the daemon stopped; marked interrupted", record["job"], was)
            if record.get("output_dir"):
                clean_leftovers(Path(record["output_dir"]))
        if records:
            compact(journal_path, records)
        return records

    def _make_engine(self) -> Any:
        from bridge.pipeline import Engine

        return Engine(device=self.config.device, backends=self.config.backends)

    def _warm_up(self, engine: Any) -> None:
        from bridge.daemon.warmup import warm_up

        warm_up(engine, self.state_dir / "warmup")

    def request_stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._stop.wait(timeout)

    def serve_forever(self) -> None:
        """Run until SIGTERM/SIGINT (or ``request_stop``), then drain and shut down."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda signum, frame: self._stop.set())
        # Wake up regularly: the OS may deliver SIGTERM to a worker thread (decoder, torch), and Python
        # runs its handler only when the main thread executes again; an untimed wait could miss it.
        while not self._stop.wait(MAIN_LOOP_TICK_S):
            pass
        self.shutdown()

    def shutdown(self) -> None:
        log.info("draining: no new jobs; waiting up to %.0f s for the running one", self.config.drain_timeout_s)
        for watcher in self.watchers:
            watcher.stop()
        if self._stop_library_watch is not None:
            self._stop_library_watch()
        if self.queue is not None:
            self.queue.drain(self.config.drain_timeout_s)
        for server in (self.udp, self.tcp):
            if server is not None:
                server.shutdown()
                server.server_close()
        if self.queue is not None:
            self.queue.journal.close()
        if self._lock_file is not None:
            self._lock_file.close()
        log.info("foley daemon stopped")

    # -- packets ----------------------------------------------------------------------------------
    def reject(self, peer: Any, exc: FoleyError) -> None:
        log.warning("dropped packet from %s: %s", peer, exc)
        self._reply(peer, (protocol.ERROR, exc.code, str(exc)))

    def dispatch(self, data: bytes, peer: Any) -> None:
        try:
            messages = protocol.decode(data)
        except protocol.ProtocolError as exc:
            self.reject(peer, exc)
            return
        for message in messages:
            try:
                handler = self._handlers.get(message.address)
                if handler is None:
                    raise protocol.UnknownAddress(
                        f"address {message.address!r} is not served; known: {', '.join(self._handlers)}")
                reply = handler(peer, message)
            except FoleyError as exc:
                self.reject(peer, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - a handler bug must not stop the server
                log.exception("handler for %s failed", message.address)
                self._reply(peer, (protocol.ERROR, protocol.INTERNAL, f"internal error: {exc}"))
                continue
            if reply is not None:
                self._reply(peer, reply)

    @staticmethod
    def _reply(peer: Any, reply: tuple) -> None:
        try:
            peer.send(*reply)
        except OSError as exc:
            log.info("could not answer %s: %s", peer, exc)

    # -- handlers ---------------------------------------------------------------------------------
    def _on_ping(self, peer: Any, message: protocol.Message) -> tuple:
        return (protocol.PONG, __version__)

    def _on_submit(self, peer: Any, message: protocol.Message) -> None:
        (text,) = protocol.expect(message, (str,))
        request, raw = self.load_request(text)
        job = self.make_job(request, raw, source="osc")
        if isinstance(peer, TcpPeer):
            peer.jobs = [j for j in peer.jobs if j.state not in ("done", "failed")] + [job]
        with job.announce:
            job.listeners.append(peer)
            self.jobs.submit(job)
            self._reply(peer, (protocol.ACCEPTED, job.id))
        return None

    def _on_cancel(self, peer: Any, message: protocol.Message) -> tuple:
        (job_id,) = protocol.expect(message, (str,))
        job = self.jobs.cancel(job_id)
        return (protocol.CANCELLING, job.id)

    def _on_status(self, peer: Any, message: protocol.Message) -> tuple:
        args = protocol.expect(message, (str,), optional=1)
        if args and args[0]:
            return (protocol.STATUS, json.dumps(self.jobs.describe(args[0])))
        return (protocol.STATUS, json.dumps(self.status()))

    def _on_models(self, peer: Any, message: protocol.Message) -> tuple:
        protocol.expect(message, ())
        return (protocol.MODELS, json.dumps(self.models()))

    # -- state ------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        snap = self.jobs.snapshot()
        return {"version": __version__, "pid": os.getpid(), "port": self.config.port, "bind": self.config.bind,
                "uptime_s": round(time.time() - self.started, 1), **snap,
                "engine_error": str(self.jobs.engine_error) if self.jobs.engine_error else None,
                "watch": [str(w.root) for w in self.watchers], "allowed": self.allowed.to_json(),
                "state_dir": str(self.state_dir), "output_root": str(self.output_root)}

    def models(self) -> dict[str, Any]:
        engine = self.jobs.engine
        info: dict[str, Any] = {"state": self.jobs.state, "requested_device": self.config.device}
        if engine is not None:
            info["device"] = engine.device
            info.update(engine.models_info())
        return info

    # -- requests ---------------------------------------------------------------------------------
    def load_request(self, text: str, base: Path | None = None) -> tuple[Request, dict[str, Any]]:
        """Parse a request given as JSON text or as a request file path; check every path it names.

        Relative paths are taken from the request file's folder (or ``base``); JSON sent inline must
        use absolute paths.
        """
        text = text.strip()
        if text.startswith("{"):
            data = decode_request_text(text)
        else:
            if not text:
                raise InputError("empty request; send a JSON object or the path of a request file")
            path = self.allowed.check(text, "request file")
            data = read_request_file(path, text)
            base = path.parent
        request = parse_request(data)
        return self.check_request(request, base), data

    @staticmethod
    def _absolute(text: str, field: str, base: Path | None) -> Path:
        """``text`` as an absolute path; relative ones are from ``base`` (the request file's folder)."""
        path = Path(text).expanduser()
        if path.is_absolute():
            return path
        if base is None:
            raise InputError(f"{field} {text!r} must be absolute when the request is sent as JSON text")
        return base / path

    def check_request(self, request: Request, base: Path | None) -> Request:
        """Check every path a request names against the allowed folders and store it resolved (links
        followed now), so a link swapped while the job waits cannot take it elsewhere; the job checks
        them again when it starts reading and before it replaces its output folder (:meth:`recheck`)."""
        for i, item in enumerate(request.items):
            path = self.allowed.check(self._absolute(item.path, f"items[{i}].path", base), "video")
            if not path.is_file():
                raise InputError(f"video {str(path)!r} does not exist (items[{i}].path)")
            item.path = str(path)
        if request.output_dir is not None:
            out = self._absolute(request.output_dir, "output_dir", base)
            request.output_dir = str(self.allowed.check_output(out, "output_dir"))
        request.options.library = self._check_library(request.options.library, base)
        if request.options.add_to_library is None:  # requests change the user's index only when asked
            request.options.add_to_library = False
        request.guard = self.recheck  # the backend name is checked with the other options
        return request

    def _check_library(self, folders: list[str], base: Path | None) -> list[str]:
        """Library folders a request names must lie in the allowed folders or already be in the
        user's sound-library index; they are stored resolved."""
        if not folders:
            return []
        known = self._library_roots()
        out = []
        for i, folder in enumerate(folders):
            path = self._absolute(folder, f"options.library[{i}]", base)
            real = path.resolve()
            if str(real) not in known:
                real = self.allowed.check(path, "library folder")
            if not real.is_dir():
                raise InputError(f"library folder {str(path)!r} does not exist (options.library[{i}])")
            out.append(str(real))
        return out

    def _library_roots(self) -> set[str]:
        """The folders of the user's sound-library index (none when there is no index)."""
        from models.library import LibraryIndex, default_db_path

        db = Path(self.config.library_db or default_db_path())
        if not db.is_file():
            return set()
        try:
            with LibraryIndex(db) as index:
                return {str(r["path"]) for r in index.list_roots()}
        except FoleyError as exc:
            log.warning("sound-library index %s not readable: %s", db, exc)
            return set()

    def recheck(self, request: Request) -> None:
        """The request's paths at the moment of use: each must still resolve to itself, inside the
        allowed folders (library folders of the user's index excepted). Raises PermissionDenied."""
        for i, item in enumerate(request.items):
            self.allowed.recheck(item.path, f"video (items[{i}].path)")
        if request.output_dir is not None:
            self.allowed.recheck(Path(request.output_dir).parent, "output_dir's folder")
        known = self._library_roots() if request.options.library else set()
        for folder in request.options.library:
            if folder not in known:
                self.allowed.recheck(folder, "library folder")

    def make_job(self, request: Request, raw: dict[str, Any], source: str,
                 on_finish: Callable[[Job], None] | None = None) -> Job:
        job_id = new_job_id()
        if request.output_dir is None:
            name = safe_name(request.name or Path(request.items[0].path).stem, "job", max_len=60)
            request.output_dir = str(self.output_root.resolve() / f"{name}-{job_id}")
        return Job(id=job_id, request=request, output_dir=Path(request.output_dir), source=source, raw=raw,
                   on_finish=on_finish)

    def submit_local(self, job: Job) -> None:
        """Queue a job that has no OSC submitter (watch folders)."""
        self.jobs.submit(job)
