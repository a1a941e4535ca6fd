"""One decoding pass for every picture consumer: the colour frame store the detector's pass fills."""
from __future__ import annotations

import copy
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from bridge import analysis_worker
from bridge.errors import Cancelled, InputError
from bridge.pipeline import Engine
from bridge.request import Item, Request
from models import stills
from models.detect import EventDetector
from models.recognize import Recognizer
from models.stills import FrameStore, colour_frames
from models.understand import STORE_EVERY_S, STORE_MAX_BYTES, STORE_MIN_BYTES, frame_store, look, understand
from models.video import iter_gray_frames, keeping, kept_store, probe
from videos import Mover, counter_video, drop, scene

FPS = 25


@pytest.fixture(scope="module")
def counter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Frame k is a flat gray of level 2*k (k = 0..99), so a frame's level tells its index."""
    return counter_video(tmp_path_factory.mktemp("v") / "counter.mp4", frames=100, step=2, fps=FPS, gop=50)


@pytest.fixture(scope="module")
def drops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("v") / "drops.mp4"
    scene(path, [Mover(drop(0.25, 0.1, 0.9), seed=1), Mover(drop(0.75, 0.6, 1.7), color=(40, 90, 230), seed=2)],
          seconds=3.0)
    return path


def _fill(info, start: float, end: float, **kw) -> FrameStore:
    store = FrameStore(info.path, start, end, info.fps, **kw)
    assert kept_store(info) is None
    with keeping(store):
        assert kept_store(info) is store   # what a picture model inside the detection reads
        for _ in iter_gray_frames(info, start, end, width=64):
            pass
    return store


def test_store_gives_the_frame_nearest_a_time(counter: Path) -> None:
    info = probe(str(counter))
    store = _fill(info, 0.5, 3.5, every_s=0.25, width=80)
    assert store.closed and len(store) == 13   # about 0.5, 0.75 ... 3.25 and the span's last frame (3.44)
    times = store.times()
    assert times[0] == pytest.approx(0.5, abs=0.5 / FPS + 1e-6) and times[-1] == pytest.approx(3.44)
    bound = 0.25 / 2 + 0.5 / FPS
    for t in np.arange(0.5, 3.5, 0.01):
        when, img = store.nearest(float(t))
        assert abs(when - t) <= bound + 1e-9
        assert img.shape == (48, 80, 3)
        assert abs(float(img.mean()) - 2 * round(when * FPS)) < 3.0   # the frame of that time, JPEG aside
    # inside a shot: the nearest kept frame of [1.6, 2.0), even when one outside is nearer
    assert store.nearest(1.55, 1.6, 2.0)[0] == pytest.approx(1.76)
    # the same frames as decoding them, for times the store covers; outside it they are decoded
    got = colour_frames(info, [1.0, 0.12, 3.8], width=80, store=store)
    assert [round(t * FPS) for t, _ in got] == [25, 3, 95]


def test_store_memory_is_bounded(counter: Path) -> None:
    info = probe(str(counter))
    one = _fill(info, 0.0, 4.0, every_s=0.04, width=160)
    assert len(one) == 100
    per_frame = one.nbytes / len(one)
    small = _fill(info, 0.0, 4.0, every_s=0.04, width=160, max_bytes=int(per_frame * 30))
    assert small.nbytes <= per_frame * 30 * 1.2
    assert small.every_s >= 0.16 and 12 <= len(small) <= 30
    gaps = np.diff(small.times())
    assert gaps.max() <= small.every_s + 1.01 / FPS     # still an even cover of the whole span
    assert small.times()[-1] > 3.5
    # a job's spans share one bound by length, each keeping at least a floor
    assert frame_store(info, 0.0, 4.0, share=0.5).max_bytes == STORE_MAX_BYTES // 2
    assert frame_store(info, 0.0, 4.0, share=1e-6).max_bytes == STORE_MIN_BYTES


def test_a_job_decodes_the_video_once(drops: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine(device="cpu")
    opened: list[str] = []
    decodes: list[object] = []
    real_open, real_rgb = av.open, stills.rgb_frames_by_index

    def counting_open(path, *a, **kw):
        opened.append(str(path))
        return real_open(path, *a, **kw)

    def counting_rgb(*a, **kw):
        decodes.append(a[1])
        return real_rgb(*a, **kw)

    monkeypatch.setattr(av, "open", counting_open)
    monkeypatch.setattr(stills, "rgb_frames_by_index", counting_rgb)
    res = engine.run(Request(items=[Item(path=str(drops))], output_dir=str(tmp_path / "out")))
    assert res.events and all(e.ucs for e in res.events)
    assert decodes == []                          # no colour frame decoded apart from the analysis pass
    # probing opens the file once, the one decoding pass once (the soundtrack-less clip has nothing else)
    assert opened.count(str(drops)) == 2, opened


def test_understanding_is_the_same_with_and_without_the_store(drops: Path) -> None:
    info = probe(str(drops))
    recognizer = Recognizer()
    store = frame_store(info, 0.0, info.duration_s)
    with keeping(store):
        det = EventDetector().detect(info, 0.0, info.duration_s)
    assert store.closed and len(store) == pytest.approx(info.duration_s / STORE_EVERY_S, abs=2)
    assert det.events
    stored, decoded = copy.deepcopy(det.events), copy.deepcopy(det.events)
    understand(recognizer, info, stored, det.shots, seen=look(recognizer, info, 0.0, info.duration_s, store),
               store=store)
    understand(recognizer, info, decoded, det.shots, seen=look(recognizer, info, 0.0, info.duration_s))
    for a, b in zip(stored, decoded):
        assert (a.ucs, a.label, a.material, a.scene) == (b.ucs, b.label, b.material, b.scene)
        assert a.evidence["confidence"] == pytest.approx(b.evidence["confidence"], abs=0.05)


@pytest.mark.skipif(not analysis_worker.available(), reason="needs fork (Linux)")
def test_forked_worker_fills_the_store_of_this_process(drops: Path) -> None:
    info = probe(str(drops))
    here = frame_store(info, 0.0, info.duration_s)
    with keeping(here):
        EventDetector().detect(info, 0.0, info.duration_s)
    there = frame_store(info, 0.0, info.duration_s)
    looked: list[list[float]] = []
    reader = threading.Thread(target=lambda: looked.append([t for t, _ in there.frames([0.5, 2.5])]))
    reader.start()   # waits for the frames while the worker decodes
    analysis_worker.detect_in_worker(EventDetector(), info, 0.0, info.duration_s, None, threading.Event(),
                                     keep=there)
    reader.join(timeout=10)
    assert there.closed and there.times() == pytest.approx(here.times())
    a, b = here.nearest(1.3), there.nearest(1.3)
    assert a is not None and b is not None and np.array_equal(a[1], b[1])
    assert looked and looked[0] == pytest.approx([0.5, 2.5], abs=STORE_EVERY_S / 2 + 0.5 / info.fps)


@pytest.mark.skipif(not analysis_worker.available(), reason="needs fork (Linux)")
def test_a_failed_or_cancelled_analysis_closes_the_store(drops: Path, tmp_path: Path) -> None:
    """Whoever waits for frames (the look) is released however the decoding pass ends."""
    info = probe(str(drops))
    gone = tmp_path / "gone.mp4"
    gone.write_bytes(drops.read_bytes())
    gone_info = probe(str(gone))
    gone.unlink()
    store = frame_store(gone_info, 0.0, 1.0)
    with pytest.raises(InputError):
        analysis_worker.detect_in_worker(EventDetector(), gone_info, 0.0, 1.0, None, threading.Event(), keep=store)
    assert store.closed and store.wait(0.5, timeout=1.0) and store.frames([0.5]) == []
    cancel = threading.Event()
    cancel.set()
    store = frame_store(info, 0.0, info.duration_s)
    with pytest.raises(Cancelled), keeping(store):
        EventDetector().detect(info, 0.0, info.duration_s, cancel=cancel)
    assert store.closed and store.wait(2.5, timeout=1.0)
