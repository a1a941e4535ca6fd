"""Watch-folder drop-in: videos or timeline files dropped into ``DIR/in`` become jobs.

Results go to ``DIR/out/NAME/``; the input then moves to ``DIR/done/`` (or ``DIR/failed/`` with
``NAME.error.txt``). A file is taken only once it is complete: its size and mtime must stay unchanged
for ``settle_s``, no process may hold it open for writing (checked in /proc where there is one), and
either it was renamed into place after its last write (its ctime is later than its mtime) or it has
not changed for ``quiet_s``. A writer closing the file is not enough: copy tools that close and reopen
it per chunk would be taken in fragments. An empty file that stays empty that long is taken too (and
fails as empty) instead of lying in ``in/`` for ever. Each file is claimed once, so it is never
queued twice; files still in ``DIR/in`` when the daemon starts (a crash, a shutdown) are queued again,
but a file whose job was interrupted ``MAX_ATTEMPTS`` times (it may be what crashes the daemon) moves
to ``DIR/failed/`` instead. Optional ``DIR/options.json`` holds job options for every file of that folder.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import AbstractSet, Any

from bridge import atomic
from bridge.daemon import protocol
from bridge.errors import FoleyError, InputError
from bridge.request import Request, parse_request

log = logging.getLogger("foley.watch")

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".mkv", ".avi", ".mxf", ".webm", ".mts", ".m2ts", ".mpg", ".mpeg"}
TIMELINE_SUFFIXES = {".otio", ".xml", ".aaf"}
#: Names that are still being written by a browser, rsync or a copy tool.
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".download", "~")
#: Codes that leave the input in ``in/`` so the next start queues it again.
RETRY_CODES = (protocol.SHUTTING_DOWN, protocol.INTERRUPTED)
#: Jobs of one file the daemon may lose (killed or crashed while they ran) before the file is failed.
MAX_ATTEMPTS = 2
#: Where a watch folder counts the attempts of the files in its ``in/`` (in the folder's root).
ATTEMPTS_FILE = ".foley-attempts.json"


def has_writer(path: Path) -> bool | None:
    """Whether any process holds ``path`` open for writing; None where that cannot be seen (no /proc)."""
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return None
    try:
        target = os.stat(path)
    except OSError:
        return False
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        fd_dir = proc / pid / "fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                st = os.stat(fd_dir / fd)
                if (st.st_dev, st.st_ino) != (target.st_dev, target.st_ino):
                    continue
                flags = (proc / pid / "fdinfo" / fd).read_text().split("flags:")[1].split()[0]
            except (OSError, IndexError):
                continue
            if int(flags, 8) & (os.O_WRONLY | os.O_RDWR):
                return True
    return False


@dataclass
class _Candidate:
    size: int = -1
    mtime_ns: int = -1
    changed: float = 0.0


def is_partial_name(name: str) -> bool:
    return name.startswith(".") or name.endswith(PARTIAL_SUFFIXES)


def unique_path(folder: Path, name: str, taken: AbstractSet[str] = frozenset()) -> Path:
    """``folder/name``, or ``name-2``, ``name-3``… (before the suffix) if that exists or is taken."""
    stem, suffix = os.path.splitext(name)
    candidate, n = name, 1
    while (folder / candidate).exists() or candidate in taken:
        n += 1
        candidate = f"{stem}-{n}{suffix}"
    return folder / candidate


def _observer() -> Any:
    """A watchdog observer; on Linux one that reports files renamed in from elsewhere as moves."""
    try:
        from watchdog.observers.inotify import InotifyObserver
    except ImportError:  # not Linux: the platform's default observer (moves in look like creations)
        from watchdog.observers import Observer

        return Observer()
    return InotifyObserver(generate_full_events=True)


class FolderWatch:
    def __init__(self, root: Path, daemon: Any, settle_s: float = 0.5, quiet_s: float = 5.0,
                 rescan_s: float = 2.0) -> None:
        self.root = root.expanduser().absolute()
        self.inbox, self.outbox = self.root / "in", self.root / "out"
        self.done, self.failed = self.root / "done", self.root / "failed"
        self.daemon = daemon
        self.settle_s, self.quiet_s, self.rescan_s = settle_s, quiet_s, rescan_s
        self._candidates: dict[str, _Candidate] = {}
        self._claimed: set[str] = set()
        self._outputs: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._observer: Any = None
        self._thread = threading.Thread(target=self._loop, name=f"foley-watch-{self.root.name}", daemon=True)

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        for folder in (self.inbox, self.outbox, self.done, self.failed):
            folder.mkdir(parents=True, exist_ok=True)
        from watchdog.events import FileSystemEventHandler

        watch = self

        class Handler(FileSystemEventHandler):
            def on_created(self, event: Any) -> None:
                watch.nudge(event.src_path, closed=False)

            def on_modified(self, event: Any) -> None:
                watch.nudge(event.src_path, closed=False)

            def on_closed(self, event: Any) -> None:
                watch.nudge(event.src_path, closed=True)

            def on_moved(self, event: Any) -> None:
                watch.nudge(event.dest_path, closed=True)

        self._observer = _observer()
        self._observer.schedule(Handler(), str(self.inbox), recursive=False)
        self._observer.start()
        self.scan()
        self._thread.start()
        log.info("watching %s (results in %s)", self.inbox, self.outbox)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    # -- discovery --------------------------------------------------------------------------------
    def nudge(self, path: str | bytes, closed: bool) -> None:
        path = os.fsdecode(path)
        if os.path.dirname(os.path.abspath(path)) != str(self.inbox):
            return
        name = os.path.basename(path)
        if is_partial_name(name):
            return
        with self._lock:
            if name in self._claimed:
                return
            # A close event only wakes the loop: readiness is decided by stability and writers alone.
            self._candidates.setdefault(name, _Candidate(changed=time.monotonic()))
        self._wake.set()

    def scan(self) -> None:
        """Pick up whatever lies in ``in/`` (at start, and as a fallback to missed events)."""
        try:
            names = os.listdir(self.inbox)
        except OSError as exc:
            log.warning("cannot list %s: %s", self.inbox, exc)
            return
        for name in names:
            if (self.inbox / name).is_file():
                self.nudge(str(self.inbox / name), closed=False)

    def _loop(self) -> None:
        next_scan = time.monotonic() + self.rescan_s
        while not self._stop.is_set():
            self._wake.wait(timeout=0.2)
            self._wake.clear()
            if self._stop.is_set():
                return
            if time.monotonic() >= next_scan:
                self.scan()
                next_scan = time.monotonic() + self.rescan_s
            for name in self._ready():
                self._take(name)

    def _ready(self) -> list[str]:
        """Names whose files are complete; updates the stability bookkeeping of the others."""
        now = time.monotonic()
        ready = []
        with self._lock:
            for name, cand in list(self._candidates.items()):
                try:
                    st = os.stat(self.inbox / name)
                except FileNotFoundError:
                    del self._candidates[name]
                    continue
                if (st.st_size, st.st_mtime_ns) != (cand.size, cand.mtime_ns):
                    cand.size, cand.mtime_ns, cand.changed = st.st_size, st.st_mtime_ns, now
                    continue
                mtime = st.st_mtime_ns / 1e9
                quiet = time.time() - mtime >= self.quiet_s
                renamed = st.st_ctime_ns - st.st_mtime_ns > 1_000_000  # moved in (or copystat) after the last write
                if now - cand.changed >= self.settle_s and (quiet or (renamed and st.st_size > 0)):
                    del self._candidates[name]
                    self._claimed.add(name)
                    ready.append(name)
        # Outside the lock: a writer still holding the file open (a stalled copy) keeps it waiting.
        taken = []
        for name in sorted(ready):
            if has_writer(self.inbox / name):
                with self._lock:
                    self._claimed.discard(name)
                    self._candidates[name] = _Candidate(changed=time.monotonic())
                continue
            taken.append(name)
        return taken

    # -- jobs -------------------------------------------------------------------------------------
    def _take(self, name: str) -> None:
        path = self.inbox / name
        lost = self._attempt(name)
        if lost >= MAX_ATTEMPTS:
            log.error("watch: %s was being worked on when the daemon stopped %d times; failing it", name, lost)
            self._move_failed(name, protocol.INTERRUPTED,
                              f"the daemon stopped (killed or crashed) {lost} times while working on this file; "
                              "it is not tried again; check the daemon log, then drop the file in again")
            self._forget(name)
            self._release(name, None)
            return
        try:
            request, raw = self._request_for(path)
            job = self.daemon.make_job(request, raw, source="watch", on_finish=self._finished)
            job.raw["watch_input"] = str(path)
            self.daemon.submit_local(job)
            log.info("watch: %s -> job %s", name, job.id)
        except FoleyError as exc:
            log.warning("watch: %s rejected: %s", name, exc)
            self._move_failed(name, exc.code, str(exc))
            self._forget(name)
            self._release(name, None)

    def _request_for(self, path: Path) -> tuple[Request, dict[str, Any]]:
        suffix = path.suffix.lower()
        options = self._folder_options()
        if suffix in VIDEO_SUFFIXES:
            raw = {"items": [{"path": str(path)}], "options": options, "host": "watch", "name": path.stem}
            request = parse_request(raw)
        elif suffix in TIMELINE_SUFFIXES:
            from adapters.timeline_files import read_timeline_request

            request = read_timeline_request(path, options=options)
            request.host = "watch"
            raw = {"timeline": str(path), "options": options}
        else:
            raise InputError(f"{path.name!r} is neither a video ({', '.join(sorted(VIDEO_SUFFIXES))}) nor a "
                             f"timeline file ({', '.join(sorted(TIMELINE_SUFFIXES))})")
        request = self.daemon.check_request(request, base=path.parent)
        with self._lock:
            out = unique_path(self.outbox, path.stem, self._outputs)
            self._outputs.add(out.name)
        request.output_dir = str(out)
        return request, raw

    def _folder_options(self) -> dict[str, Any]:
        path = self.root / "options.json"
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"{path} is not valid JSON ({exc}); fix or remove it") from None
        if not isinstance(data, dict):
            raise InputError(f"{path} must hold a JSON object of job options")
        return data

    def _finished(self, job: Any) -> None:
        name = Path(job.raw["watch_input"]).name
        if job.state == "failed" and job.code in RETRY_CODES:
            log.info("watch: %s stays in %s (%s); it is queued again at the next start", name, self.inbox, job.code)
            if job.code == protocol.SHUTTING_DOWN:  # an orderly stop is not the file's fault
                self._forget(name)
        elif job.state == "done":
            self._move(name, self.done)
            self._forget(name)
        else:
            self._move_failed(name, job.code or "error", job.message)
            self._forget(name)
        self._release(name, Path(job.output_dir).name)

    # -- attempts: a file whose job the daemon keeps losing is not retried for ever -----------------
    def _attempts(self) -> dict[str, int]:
        try:
            data = json.loads((self.root / ATTEMPTS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, int)} if isinstance(data, dict) else {}

    def _save_attempts(self, data: dict[str, int]) -> None:
        path = self.root / ATTEMPTS_FILE
        try:
            atomic.write_json(path, data, indent=None)
        except OSError as exc:
            log.warning("watch: cannot record attempts in %s: %s", path, exc)

    def _attempt(self, name: str) -> int:
        """Count one more job of ``name``; returns how many earlier ones were lost (never finished)."""
        with self._lock:
            data = self._attempts()
            lost = data.get(name, 0)
            if lost < MAX_ATTEMPTS:
                data[name] = lost + 1
                self._save_attempts(data)
        return lost

    def _forget(self, name: str) -> None:
        with self._lock:
            data = self._attempts()
            if data.pop(name, None) is not None:
                self._save_attempts(data)

    def _release(self, name: str, output: str | None) -> None:
        with self._lock:
            self._claimed.discard(name)
            if output:
                self._outputs.discard(output)

    def _move(self, name: str, folder: Path) -> Path | None:
        src = self.inbox / name
        with self._lock:
            dest = unique_path(folder, name)
        try:
            shutil.move(str(src), str(dest))
        except OSError as exc:
            log.error("watch: cannot move %s to %s: %s", src, dest, exc)
            return None
        return dest

    def _move_failed(self, name: str, code: str, message: str) -> None:
        dest = self._move(name, self.failed)
        if dest is None:
            return
        atomic.write_text(dest.with_name(dest.name + ".error.txt"), f"{code}: {message}\n")
