"""Where people's feet are: mediapipe pose (model_complexity=1, the only pose model the wheel bundles) run on
colour frames decoded at chosen times (:func:`models.stills.rgb_frames`).

mediapipe is optional (installed by scripts/setup.sh with ``--no-deps``): when it cannot be imported,
:func:`load_pose` logs that once and returns None, and no footsteps are produced. Pose costs 20-30 ms a
256 px frame on a CPU, so callers sample sparsely and go dense only around candidate contacts.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import threading
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger("foley.pose")

#: mediapipe landmark indices per foot: heel and foot index (toe tip). The ankle is left out: it moves on
#: while the heel is planted and the foot rolls over.
FEET = ((29, 31), (30, 32))
#: A landmark counts only at this visibility or more (mediapipe's own 0..1 estimate).
VISIBLE = 0.5
#: Analysis width of the frames given to the model (pixels).
WIDTH = 256

_missing_logged = False
_lock = threading.Lock()
_quiet_lock = threading.Lock()
#: What mediapipe's native code writes to the process's stderr when it loads and starts its graphs (TFLite's
#: delegate notice, absl's pre-init warning, glog-style INFO/WARNING lines): set-up chatter, not the project's
#: output. Native errors (E lines) and anything else are passed on.
NATIVE_NOISE = re.compile(rb"^(INFO: Created TensorFlow Lite|INFO: Initialized TensorFlow Lite"
                          rb"|WARNING: All log messages before absl::InitializeLog"
                          rb"|[IW]\d{4} [\d:.]+ +\d+ [\w./-]+:\d+\])")
#: The process that started mediapipe (its graphs do not survive a fork: a child that starts its own after
#: its parent did corrupts the heap, so a forked child of such a process goes without pose).
_started_in: int | None = None


@dataclass
class FeetTrack:
    """Feet over time: ``feet[i, f]`` is (x, y) of foot f (0 left, 1 right) at ``times[i]`` in 0..1 of the
    frame (mean of its visible heel and toe), NaN where neither is visible or no person is found."""

    times: np.ndarray    # (m,)
    feet: np.ndarray     # (m, 2, 2)

    @staticmethod
    def empty() -> FeetTrack:
        return FeetTrack(np.zeros(0), np.zeros((0, 2, 2)))

    def visible(self) -> np.ndarray:
        """(m,) whether any foot is seen at each time."""
        return ~np.isnan(self.feet[..., 0]).all(axis=1) if len(self.times) else np.zeros(0, bool)


def feet_from_landmarks(landmarks: Any) -> np.ndarray:
    """(2, 2) foot positions from one result's ``pose_landmarks`` (None: no person) -> NaN where unseen."""
    out = np.full((2, 2), np.nan)
    if landmarks is None:
        return out
    pts = landmarks.landmark
    for f, idx in enumerate(FEET):
        seen = [(pts[i].x, pts[i].y) for i in idx if pts[i].visibility >= VISIBLE]
        if seen:
            out[f] = np.mean(seen, axis=0)
    return out


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Run a block with file descriptor 2 sent to a temporary file, then write back to stderr every line that
    is not mediapipe's set-up chatter (:data:`NATIVE_NOISE`). Native code writes to the descriptor, not to
    ``sys.stderr``, so no Python setting reaches it (GLOG_minloglevel and TF_CPP_MIN_LOG_LEVEL do not either).
    Other threads' output in the window is delayed, not lost."""
    with _quiet_lock:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):
            yield
            return
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                kept = [ln for ln in sink.read().splitlines(keepends=True) if not NATIVE_NOISE.match(ln)]
                if kept:
                    os.write(2, b"".join(kept))


class PoseModel:
    """mediapipe's pose landmarker (loaded once; reset for each run of frames, as it tracks between them)."""

    def __init__(self, mp_pose: Any):
        blank = np.zeros((64, 64, 3), np.uint8)
        with quiet_native_stderr():
            self._pose = mp_pose.Pose(static_image_mode=False, model_complexity=1, min_detection_confidence=0.5)
            self._still = mp_pose.Pose(static_image_mode=True, model_complexity=1, min_detection_confidence=0.5)
            # A graph opens its calculators (and TFLite prints its notices) on its own threads after it starts:
            # one frame through each waits for that inside the filtered window.
            self._pose.process(blank)
            self._still.process(blank)
        self._lock = threading.Lock()

    def feet_in(self, rgb: np.ndarray) -> np.ndarray:
        """(2, 2) feet of one lone frame (no tracking, nothing to reset)."""
        with self._lock, quiet_native_stderr():
            return feet_from_landmarks(self._still.process(np.ascontiguousarray(rgb)).pose_landmarks)

    def feet(self, frames: Sequence[tuple[float, np.ndarray]]) -> FeetTrack:
        """Feet in RGB ``frames`` (time, HxWx3 uint8), which should be in time order and close together (the
        landmarker follows the person from one frame to the next)."""
        if not frames:
            return FeetTrack.empty()
        out = np.full((len(frames), 2, 2), np.nan)
        # The reset restarts the graph, whose threads print again while they open: the frames that follow
        # wait for them, so reset and frames share one filtered window (about 0.1 ms against 20-30 ms a frame).
        with self._lock, quiet_native_stderr():
            self._pose.reset()
            for i, (_, rgb) in enumerate(frames):
                out[i] = feet_from_landmarks(self._pose.process(np.ascontiguousarray(rgb)).pose_landmarks)
        return FeetTrack(np.asarray([t for t, _ in frames], np.float64), out)


#: Modules that mediapipe's ``solutions`` package imports for drawing only; they pull in matplotlib and
#: pyplot (0.4 s of the 0.7 s import) and pose does not use them.
DRAWING_MODULES = ("mediapipe.python.solutions.drawing_utils", "mediapipe.python.solutions.drawing_styles")


def _import_pose() -> Any:
    """mediapipe's pose solution module, imported without its drawing helpers: empty placeholders stand in
    for them during the import and are removed after it, so a later import of them loads the real ones."""
    placed = [name for name in DRAWING_MODULES if name not in sys.modules]
    for name in placed:
        sys.modules[name] = types.ModuleType(name)
    try:
        from mediapipe.python.solutions import pose as mp_pose  # type: ignore[import-untyped]
    finally:
        for name in placed:
            stub = sys.modules.pop(name, None)
            parent = sys.modules.get(name.rpartition(".")[0])
            if parent is not None and getattr(parent, name.rpartition(".")[2], None) is stub:
                delattr(parent, name.rpartition(".")[2])
    return mp_pose


def load_pose() -> PoseModel | None:
    """The pose model, or None (logged once per process) when mediapipe is not installed, or when this is
    a forked child of a process that already started it."""
    global _missing_logged, _started_in
    if _started_in is not None and _started_in != os.getpid():
        with _lock:
            if not _missing_logged:
                _missing_logged = True
                log.warning("pose was started in the parent process and cannot run in this forked one: "
                            "no footsteps from this analysis")
        return None
    try:
        with quiet_native_stderr():
            mp_pose = _import_pose()
    except ImportError as exc:
        with _lock:
            if not _missing_logged:
                _missing_logged = True
                log.warning("mediapipe is not installed (%s): no footsteps are detected; "
                            "run scripts/setup.sh to install it", exc)
        return None
    model = PoseModel(mp_pose)
    _started_in = os.getpid()
    return model
