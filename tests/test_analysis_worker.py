"""Cold-start analysis in a forked worker gives the same events, errors and cancel as in-process."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bridge import analysis_worker
from bridge.errors import Cancelled, InputError
from bridge.pipeline import Engine
from bridge.request import Item, Request
from models.detect import EventDetector
from models.video import probe
from videos import Mover, drop, scene

pytestmark = pytest.mark.skipif(not analysis_worker.available(), reason="needs fork (Linux)")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("v") / "clip.mp4"
    scene(path, [Mover(drop(0.3, 0.1, 0.9), seed=1), Mover(drop(0.7, 0.5, 1.5), seed=2)], seconds=2.5)
    return path


def test_worker_matches_in_process_detection(clip: Path) -> None:
    info = probe(str(clip))
    detector = EventDetector()
    seen: list[float] = []
    here = detector.detect(info, 0.0, info.duration_s)
    there = analysis_worker.detect_in_worker(detector, info, 0.0, info.duration_s, seen.append, threading.Event())
    assert [(e.kind, e.time_s, e.x) for e in there.events] == [(e.kind, e.time_s, e.x) for e in here.events]
    assert seen and seen[-1] == pytest.approx(1.0, abs=0.05)


def test_worker_errors_and_cancel(clip: Path, tmp_path: Path) -> None:
    info = probe(str(clip))
    bad = tmp_path / "gone.mp4"
    bad.write_bytes(clip.read_bytes())
    bad_info = probe(str(bad))
    bad.unlink()
    with pytest.raises(InputError, match="gone.mp4"):
        analysis_worker.detect_in_worker(EventDetector(), bad_info, 0.0, 1.0, None, threading.Event())
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        analysis_worker.detect_in_worker(EventDetector(), info, 0.0, info.duration_s, None, cancel)


def test_cold_start_engine_runs_the_whole_job(clip: Path, tmp_path: Path) -> None:
    engine = Engine(device="cpu", cold_start=True)
    assert not engine.loading_started
    res = engine.run(Request(items=[Item(path=str(clip))], output_dir=str(tmp_path / "out")))
    assert engine.loading_started and res.events
    warm = Engine(device="cpu").run(Request(items=[Item(path=str(clip))], output_dir=str(tmp_path / "out2")))
    assert [(e.kind, e.time_s) for e in res.events] == [(e.kind, e.time_s) for e in warm.events]



class _Dispositions:
    """A detector that reports how the worker process handles signals."""

    def detect(self, info, start_s, end_s, progress=None):  # noqa: ANN001, ANN201
        import signal

        return [signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)]


def test_worker_ends_quietly_when_the_parent_ends_it(clip: Path) -> None:
    """Under ``foley run`` SIGTERM unwinds the job like Ctrl-C. The forked worker must not inherit that
    handler: a ``terminate()`` landing while it closes its pipe printed its traceback on the user's
    terminal. It ends on SIGTERM/SIGHUP without a word and leaves Ctrl-C to the parent."""
    import signal

    from bridge.commands.run import terminate_as_interrupt

    with terminate_as_interrupt():
        seen = analysis_worker.detect_in_worker(_Dispositions(), probe(str(clip)), 0.0, 1.0, None, threading.Event())
    assert seen == [signal.SIG_DFL, signal.SIG_DFL, signal.SIG_IGN]
