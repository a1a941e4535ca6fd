"""Where a batch's shots run: Ray actors (local or a cluster) or, without Ray, a local process pool.

Both keep one warm :class:`~bridge.batch.worker.ShotWorker` per worker and hand it one shot at a time, so
a worker that finishes early takes the next shot. A worker that dies mid-shot loses nothing: Ray restarts
the actor and runs the shot again (``max_restarts`` / ``max_task_retries``); shots still unfinished after
that, or after a broken process pool, are sent again up to ``MAX_ATTEMPTS`` times in all.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from bridge.errors import BackendError, Cancelled, InputError

log = logging.getLogger("foley.batch")

#: How the cluster extra is installed (the one place that says it).
CLUSTER_INSTALL = "pip install foley-bridge[cluster]"
#: Ray restarts a dead actor this many times, and re-runs the task it held this many times.
MAX_RESTARTS = 3
MAX_TASK_RETRIES = 2
#: Times in all a shot is sent to a worker before the batch reports it failed for lost workers.
MAX_ATTEMPTS = 3
#: CPUs a worker holds: an engine decodes on one thread while it analyses motion on another, and its
#: torch sums run on this many threads (Ray sets OMP_NUM_THREADS from it; the pool does the same).
CPUS_PER_WORKER = 2
#: How long the batch waits for a first worker to come up (load its models) before giving up.
START_TIMEOUT_S = 600.0


@dataclass
class Task:
    index: int
    shot: dict[str, Any]
    output_dir: str
    attempts: int = 0


OnResult = Callable[[Task, dict[str, Any]], None]


def ray_available() -> bool:
    return importlib.util.find_spec("ray") is not None


def head_address(address: str) -> str:
    """The cluster head's host:port for ``address`` ("auto": the cluster started on this machine), checked
    to answer, so a wrong address is one clear error now rather than Ray's minutes of retries."""
    import socket

    from ray._private import services  # how Ray itself resolves "auto" and the RAY_ADDRESS variable

    try:
        target = services.canonicalize_bootstrap_address(address)
    except (ConnectionError, ValueError) as exc:
        raise InputError(f"--ray-address {address!r}: {exc}") from None
    if not target:
        raise InputError(f"--ray-address {address!r} names no cluster; give the HOST:PORT of a head started "
                         "with 'ray start --head'")
    host, _, port = target.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except (OSError, ValueError) as exc:
        raise InputError(f"nothing answers at {target} (--ray-address {address!r}): {exc}; start the head with "
                         "'ray start --head' or check the address") from None
    return target


def default_workers(cpus: int) -> int:
    """Workers for ``cpus`` CPUs when --workers is not given."""
    return max(1, cpus // CPUS_PER_WORKER)


def lost(task: Task, why: str) -> dict[str, Any]:
    return {"status": "failed", "events": None, "seconds": None, "worker": None, "output_dir": task.output_dir,
            "error": why}


class RayRunner:
    """An actor per worker on a Ray cluster: joined at ``address``, else started on this machine."""

    def __init__(self, workers: int | None, address: str | None, device: str, backend: str,
                 options: dict[str, Any]) -> None:
        if not ray_available():
            raise InputError(f"Ray is not installed here, and running on a cluster needs it; {CLUSTER_INSTALL}")
        self.workers, self.address, self.device, self.backend = workers, address, device, backend
        self.options = options
        self.actors: list[Any] = []
        self.started_ray = False

    def start(self, shots: int) -> str:
        """Connect (or start Ray) and create the actors; a line saying where the work runs."""
        import ray

        if ray.is_initialized():
            where = "the Ray instance this process already holds"
        elif self.address:
            target = head_address(self.address)
            os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "15")  # Ray's own default retries ~10 min
            try:
                ray.init(address=target, logging_level=logging.ERROR, log_to_driver=False)
            except (ConnectionError, ray.exceptions.RayError, ValueError) as exc:
                raise InputError(
                    f"cannot join the Ray cluster at {self.address!r}: {str(exc).splitlines()[0]}; start it with "
                    "'ray start --head' and, when it uses token authentication, set RAY_AUTH_MODE=token here "
                    "(the token from 'ray get-auth-token' in RAY_AUTH_TOKEN or ~/.ray/auth_token)") from None
            self.started_ray = True
            nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
            where = f"the Ray cluster at {self.address} ({nodes} node{'s' * (nodes != 1)})"
        else:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            workers = self.workers or default_workers(os.cpu_count() or 1)
            ray.init(address="local", num_cpus=workers * CPUS_PER_WORKER, include_dashboard=False,
                     logging_level=logging.ERROR, log_to_driver=False)
            self.started_ray = True
            where = "Ray on this machine (a local instance, no other node)"
        resources = ray.cluster_resources()
        count = max(1, min(self.workers or default_workers(int(resources.get("CPU", 1))), shots))
        gpus = float(resources.get("GPU", 0.0))
        per_gpu = min(1.0, gpus / count) if gpus and self.device != "cpu" else 0.0
        from bridge.batch.worker import ShotWorker

        actor = ray.remote(ShotWorker).options(num_cpus=CPUS_PER_WORKER, num_gpus=per_gpu, max_restarts=MAX_RESTARTS,
                                               max_task_retries=MAX_TASK_RETRIES)
        self.actors = [actor.remote(self.device, self.backend) for _ in range(count)]
        gpu_note = f", {per_gpu:g} GPU each" if per_gpu else ""
        return f"{where}: {count} worker{'s' * (count != 1)}{gpu_note}"

    def run(self, tasks: list[Task], on_result: OnResult, cancel: threading.Event | None = None) -> None:
        import ray
        from ray.exceptions import RayActorError, RayError

        pending = deque(tasks)
        waiting: dict[Any, tuple[int, Task | None]] = {a.ping.remote(): (i, None) for i, a in
                                                      enumerate(self.actors)}
        idle: list[int] = []
        live = set(range(len(self.actors)))
        ready_once = False
        first_error: str | None = None

        def dispatch(i: int) -> None:
            if not pending:
                idle.append(i)
                return
            task = pending.popleft()
            task.attempts += 1
            waiting[self.actors[i].run_shot.remote(task.shot, self.options, task.output_dir)] = (i, task)

        started = time.monotonic()
        while pending or any(task is not None for _, task in waiting.values()):
            if not ready_once and time.monotonic() - started > START_TIMEOUT_S:
                raise BackendError(f"no Ray worker came up within {START_TIMEOUT_S:.0f} s; each takes "
                                   f"{CPUS_PER_WORKER} CPUs: ask for fewer with --workers")
            done = ray.wait(list(waiting), num_returns=1, timeout=1.0)[0] if waiting else []
            for ref in done:
                i, task = waiting.pop(ref)
                try:
                    value = ray.get(ref)
                except RayActorError as exc:  # the actor is gone for good (its restarts are used up)
                    live.discard(i)
                    first_error = first_error or str(exc).splitlines()[0]
                    log.warning("worker %d died: %s", i, first_error)
                    if task is not None:
                        self._retry_or_fail(task, pending, on_result, f"its worker died: {first_error}")
                    continue
                except RayError as exc:
                    value = lost(task, f"{type(exc).__name__}: {exc}") if task else None
                ready_once = True
                dispatch(i)  # the next shot goes out before this one is reported
                if task is not None and value is not None:
                    on_result(task, value)
            if cancel is not None and cancel.is_set():
                raise Cancelled("batch cancelled")
            while idle and pending:
                dispatch(idle.pop())
            if not live and pending:
                if not ready_once:
                    raise BackendError(f"no Ray worker could start: {first_error}; every node needs foley-bridge "
                                       "installed in the Python that runs Ray")
                while pending:
                    task = pending.popleft()
                    on_result(task, lost(task, f"no worker left: {first_error}"))

    @staticmethod
    def _retry_or_fail(task: Task, pending: deque, on_result: OnResult, why: str) -> None:
        if task.attempts < MAX_ATTEMPTS:
            pending.appendleft(task)
        else:
            on_result(task, lost(task, f"{why} (tried {task.attempts} times)"))

    def cancel(self) -> None:
        """Kill the workers at once (their shots' temporary folders are swept by the batch)."""
        import ray

        for a in self.actors:
            try:
                ray.kill(a, no_restart=True)
            except Exception as exc:  # already dead or unreachable: nothing left to stop
                log.debug("kill worker: %s", exc)
        for a in self.actors:  # wait until each is gone, so nothing writes after the batch sweeps
            try:
                ray.get(a.ping.remote(), timeout=10)
            except Exception as exc:  # the expected answer: the actor is dead
                log.debug("worker stopped: %s", type(exc).__name__)

    def close(self) -> None:
        import ray

        for a in self.actors:
            try:
                ray.kill(a, no_restart=True)
            except Exception as exc:
                log.debug("release worker: %s", exc)
        self.actors = []
        if self.started_ray:
            ray.shutdown()
            self.started_ray = False


_worker: Any = None


def _pool_init(device: str, backend: str) -> None:
    """In each pool process: Ctrl-C is the batch's to handle; the compute threads of a Ray worker; build the
    warm worker once."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("OMP_NUM_THREADS", str(CPUS_PER_WORKER))  # read when torch loads, which is next
    global _worker
    from bridge.batch.worker import ShotWorker

    _worker = ShotWorker(device, backend)


def _pool_run(shot: dict[str, Any], options: dict[str, Any], output_dir: str) -> dict[str, Any]:
    return _worker.run_shot(shot, options, output_dir)


class PoolRunner:
    """Without Ray: a pool of local processes, each holding a warm worker."""

    def __init__(self, workers: int | None, device: str, backend: str, options: dict[str, Any]) -> None:
        self.workers, self.device, self.backend, self.options = workers, device, backend, options
        self.count = 1
        self.executor: Any = None

    def start(self, shots: int) -> str:
        self.count = max(1, min(self.workers or default_workers(os.cpu_count() or 1), shots))
        why = "" if ray_available() else f" (Ray is not installed; {CLUSTER_INSTALL} to use it)"
        return f"a process pool on this machine: {self.count} worker{'s' * (self.count != 1)}{why}"

    def _executor(self) -> Any:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(self.count, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_pool_init, initargs=(self.device, self.backend))

    def run(self, tasks: list[Task], on_result: OnResult, cancel: threading.Event | None = None) -> None:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        pending = deque(tasks)
        while pending:
            self.executor = self._executor()
            futures = {}
            for task in pending:
                futures[self.executor.submit(_pool_run, task.shot, self.options, task.output_dir)] = task
            pending.clear()
            broken = False
            started: set[Any] = set()
            while futures:
                done, _ = wait(list(futures), timeout=1.0, return_when=FIRST_COMPLETED)
                started.update(f for f in futures if f.running())
                for fut in done:
                    task = futures.pop(fut)
                    try:
                        on_result(task, fut.result())
                    except BrokenProcessPool as exc:  # a worker process died: send its shots again
                        broken = True
                        # only a shot seen running counts a try (queued ones were never tried); when
                        # none was seen running (it died at once), every one counts, so none loops for ever
                        task.attempts += (fut in started) or not started
                        if task.attempts < MAX_ATTEMPTS:
                            pending.append(task)
                        else:
                            on_result(task, lost(task, f"its worker process died: {exc} "
                                                       f"(tried {task.attempts} times)"))
                if cancel is not None and cancel.is_set():
                    raise Cancelled("batch cancelled")
            self.executor.shutdown(wait=True)
            self.executor = None
            if broken:
                pending = deque(sorted(pending, key=lambda t: t.index))

    def cancel(self) -> None:
        """Stop the pool's processes at once."""
        if self.executor is None:
            return
        processes = list(getattr(self.executor, "_processes", {}).values())
        self.executor.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            proc.kill()
        for proc in processes:
            proc.join(timeout=5)
        self.executor = None

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True)
            self.executor = None


def make_runner(runner: str, workers: int | None, address: str | None, device: str, backend: str,
                options: dict[str, Any]) -> RayRunner | PoolRunner:
    """``runner`` "auto": Ray when an address is given or Ray is installed, else the process pool."""
    if runner not in ("auto", "ray", "pool"):
        raise InputError(f"runner {runner!r} is not one of: auto, ray, pool")
    if address and runner == "pool":
        raise InputError("--ray-address joins a Ray cluster; it cannot be used with --runner pool")
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers} must be 1 or more")
    if runner == "ray" or address or (runner == "auto" and ray_available()):
        return RayRunner(workers, address, device, backend, options)
    return PoolRunner(workers, device, backend, options)
