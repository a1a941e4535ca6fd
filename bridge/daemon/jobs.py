"""The job queue and its engine worker: one worker thread per daemon (one device), jobs in order.

Socket handlers only validate and enqueue; inference runs here. Every state change is journaled
before it is announced, so a crash never loses a job silently.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from bridge.daemon import protocol
from bridge.daemon.journal import Journal
from bridge.errors import Cancelled, FoleyError, InputError
from bridge.request import Request

log = logging.getLogger("foley.jobs")

#: Seconds between two progress messages of one job (stage changes are always sent).
PROGRESS_INTERVAL_S = 0.1
#: Finished jobs kept in memory for ``/foley/status``.
KEEP_FINISHED = 500


class Listener(Protocol):
    """Someone to tell about a job: an OSC peer. ``send`` raises OSError once the peer is gone."""

    def send(self, address: str, *args: Any) -> None: ...


def new_job_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class Job:
    id: str
    request: Request
    output_dir: Path
    source: str = "osc"
    raw: dict[str, Any] = field(default_factory=dict)
    state: str = "queued"
    stage: str = ""
    fraction: float = 0.0
    message: str = ""
    code: str | None = None
    result_path: str | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    listeners: list[Listener] = field(default_factory=list)
    on_finish: Callable[["Job"], None] | None = None
    #: Set when the daemon cancels the job because it is shutting down (not the user's cancel).
    shutdown: bool = False
    #: Held while the submitter is told ``/foley/accepted``, so no job message can overtake it.
    announce: threading.Lock = field(default_factory=threading.Lock)
    _last_progress: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"job": self.id, "state": self.state, "stage": self.stage, "fraction": round(self.fraction, 4),
                "message": self.message, "code": self.code, "result_path": self.result_path,
                "output_dir": str(self.output_dir), "source": self.source, "name": self.request.name,
                "created": self.created, "started": self.started, "finished": self.finished}

    def notify(self, address: str, *args: Any) -> None:
        with self.announce:
            listeners = list(self.listeners)
        for listener in listeners:
            try:
                listener.send(address, *args)
            except OSError as exc:
                log.info("job %s: listener %s is gone (%s); no more messages to it", self.id, listener, exc)
                if listener in self.listeners:
                    self.listeners.remove(listener)

    def progress(self, stage: str, fraction: float) -> None:
        now = time.monotonic()
        changed = stage != self.stage
        self.stage, self.fraction = stage, float(min(max(fraction, 0.0), 1.0))
        if changed or now - self._last_progress >= PROGRESS_INTERVAL_S or self.fraction >= 1.0:
            self._last_progress = now
            self.notify(protocol.PROGRESS, self.id, stage, self.fraction)


class ShuttingDown(FoleyError):
    """The daemon is draining and takes no new jobs."""

    code = protocol.SHUTTING_DOWN


class JobQueue:
    """Jobs in submission order, run one at a time by a worker that owns the engine."""

    def __init__(self, journal: Journal, engine_factory: Callable[[], Any],
                 warm_up: Callable[[Any], None] | None = None,
                 history: dict[str, dict[str, Any]] | None = None) -> None:
        self.journal = journal
        self._engine_factory = engine_factory
        self._warm_up = warm_up
        self.engine: Any = None
        self.engine_error: FoleyError | None = None
        self.state = "loading"
        self.history = dict(history or {})
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._pending: deque[Job] = deque()
        self._cond = threading.Condition()
        self._accepting = True
        self._stopped = False
        self.running: Job | None = None
        self.ready = threading.Event()
        self._worker = threading.Thread(target=self._work, name="foley-worker", daemon=True)

    # -- public -----------------------------------------------------------------------------------
    def start(self) -> None:
        self._worker.start()

    def submit(self, job: Job) -> None:
        """Journal and enqueue. Raises ShuttingDown while draining."""
        with self._cond:
            if not self._accepting:
                raise ShuttingDown("the foley daemon is shutting down and takes no new jobs; submit again "
                                   "once it has restarted")
            self.journal.append(job.id, "queued", source=job.source, output_dir=str(job.output_dir),
                                request=job.raw, name=job.request.name)
            self._jobs[job.id] = job
            self._pending.append(job)
            self._cond.notify_all()
        log.info("job %s queued (%s, %d item(s)) -> %s", job.id, job.source, len(job.request.items),
                 job.output_dir)

    def get(self, job_id: str) -> Job | None:
        with self._cond:
            return self._jobs.get(job_id)

    def describe(self, job_id: str) -> dict[str, Any]:
        """A job's status as JSON-able dict, live or from the journal. Raises InputError if unknown."""
        job = self.get(job_id)
        if job is not None:
            return job.to_json()
        if job_id in self.history:
            record = dict(self.history[job_id])
            record.pop("request", None)
            return record
        raise UnknownJob(f"job {job_id!r} is not known to this daemon; `foley status` lists the jobs")

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job at once, or ask the running one to stop. Raises if unknown or finished."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None:
                self.describe(job_id)  # raises UnknownJob for ids never seen
                raise JobFinished(f"job {job_id!r} already finished; nothing to cancel")
            if job.state in ("done", "failed"):
                raise JobFinished(f"job {job_id!r} already finished ({job.state}); nothing to cancel")
            job.cancel.set()
            queued = job in self._pending
            if queued:
                self._pending.remove(job)
        if queued:
            self._finish(job, "failed", code=Cancelled.code, message="job cancelled before it started")
        log.info("job %s: cancel requested (%s)", job_id, "was queued" if queued else "running")
        return job

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            return {"state": self.state, "running": self.running.id if self.running else None,
                    "queued": [j.id for j in self._pending],
                    "jobs": [j.to_json() for j in list(self._jobs.values())[-50:]]}

    def drain(self, timeout_s: float) -> None:
        """Stop accepting, fail queued jobs, let the running one finish for ``timeout_s``, then cancel it."""
        with self._cond:
            self._accepting = False
            self.state = "draining"
            queued = list(self._pending)
            self._pending.clear()
        for job in queued:
            job.cancel.set()
            self._finish(job, "failed", code=protocol.SHUTTING_DOWN,
                         message="the daemon shut down before this job started; submit it again")
        deadline = time.monotonic() + timeout_s
        while self.running is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        running = self.running
        if running is not None:
            log.warning("job %s still running after %.1f s of draining; cancelling it", running.id, timeout_s)
            running.shutdown = True
            running.cancel.set()
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._worker.join(timeout=timeout_s + 5.0)

    # -- worker -----------------------------------------------------------------------------------
    def _load(self) -> None:
        started = time.monotonic()
        try:
            self.engine = self._engine_factory()
            if self._warm_up is not None:
                self._warm_up(self.engine)
        except FoleyError as exc:
            self.engine_error = exc
            log.error("the engine could not be loaded: %s", exc)
        except Exception as exc:  # noqa: BLE001 - reported to every job instead of killing the worker
            self.engine_error = FoleyError(f"the engine could not be loaded: {exc}")
            log.exception("the engine could not be loaded")
        else:
            log.info("engine ready on %s in %.2f s", getattr(self.engine, "device", "?"),
                     time.monotonic() - started)
        with self._cond:
            if self.state == "loading":
                self.state = "ready" if self.engine_error is None else "broken"
        self.ready.set()

    def _work(self) -> None:
        self._load()
        while True:
            with self._cond:
                while not self._pending and not self._stopped:
                    self._cond.wait()
                if self._stopped and not self._pending:
                    return
                job = self._pending.popleft()
                self.running = job
            try:
                self._run(job)
            finally:
                with self._cond:
                    self.running = None

    def _run(self, job: Job) -> None:
        if self.engine_error is not None:
            self._finish(job, "failed", code=self.engine_error.code, message=str(self.engine_error))
            return
        job.state, job.started = "running", time.time()
        self.journal.append(job.id, "running")
        job.notify(protocol.PROGRESS, job.id, "start", 0.0)
        try:
            result = self.engine.run(job.request, progress=job.progress, cancel=job.cancel)
        except Cancelled:
            if job.shutdown:
                self._finish(job, "failed", code=protocol.SHUTTING_DOWN,
                             message="the daemon shut down while this job ran; submit it again")
            else:
                self._finish(job, "failed", code=Cancelled.code,
                             message="job cancelled; its partial output was removed")
        except FoleyError as exc:
            self._finish(job, "failed", code=exc.code, message=str(exc))
        except Exception as exc:  # noqa: BLE001 - one bad job must not kill the worker
            log.exception("job %s crashed", job.id)
            self._finish(job, "failed", code=protocol.INTERNAL,
                         message=f"internal error: {type(exc).__name__}: {exc}; see the daemon log")
        else:
            job.result_path = str(Path(result.output_dir) / "result.json")
            job.fraction = 1.0
            self._finish(job, "done", message=f"{len(result.events)} events")

    def _finish(self, job: Job, state: str, code: str | None = None, message: str = "") -> None:
        job.state, job.code, job.message, job.finished = state, code, message, time.time()
        self.journal.append(job.id, state, code=code, message=message, result_path=job.result_path)
        if state == "done":
            log.info("job %s done in %.2f s -> %s", job.id, job.finished - (job.started or job.created),
                     job.result_path)
            job.notify(protocol.DONE, job.id, job.result_path)
        else:
            log.info("job %s failed (%s): %s", job.id, code, message)
            job.notify(protocol.FAILED, job.id, code or "error", message)
        if job.on_finish is not None:
            try:
                job.on_finish(job)
            except Exception:  # noqa: BLE001 - a watch-folder move failing must not kill the worker
                log.exception("job %s: finishing step failed", job.id)
        with self._cond:
            while len(self._jobs) > KEEP_FINISHED:
                oldest = next(iter(self._jobs.values()))
                if oldest.state not in ("done", "failed"):
                    break
                self._jobs.popitem(last=False)


class UnknownJob(InputError):
    code = protocol.UNKNOWN_JOB


class JobFinished(InputError):
    code = protocol.FINISHED
