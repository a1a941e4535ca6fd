"""Where people's feet are: mediapipe pose (model_complexity=1, the only pose model the wheel bundles) run on
colour frames decoded at chosen times (:func:`models.stills.rgb_frames`).

mediapipe is optional (installed by scripts/setup.sh with ``--no-deps``): when it cannot be imported,
:func:`load_pose` logs that once and returns None, and no footsteps are produced. Pose costs 20-30 ms a
256 px frame on a CPU, so callers sample sparsely and go dense only around candidate contacts.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
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


class PoseModel:
    """mediapipe's pose landmarker (loaded once; reset for each run of frames, as it tracks between them)."""

    def __init__(self, mp_pose: Any):
        self._pose = mp_pose.Pose(static_image_mode=False, model_complexity=1, min_detection_confidence=0.5)
        self._still = mp_pose.Pose(static_image_mode=True, model_complexity=1, min_detection_confidence=0.5)
        self._lock = threading.Lock()

    def feet_in(self, rgb: np.ndarray) -> np.ndarray:
        """(2, 2) feet of one lone frame (no tracking, nothing to reset)."""
        with self._lock:
            return feet_from_landmarks(self._still.process(np.ascontiguousarray(rgb)).pose_landmarks)

    def feet(self, frames: Sequence[tuple[float, np.ndarray]]) -> FeetTrack:
        """Feet in RGB ``frames`` (time, HxWx3 uint8), which should be in time order and close together (the
        landmarker follows the person from one frame to the next)."""
        if not frames:
            return FeetTrack.empty()
        out = np.full((len(frames), 2, 2), np.nan)
        with self._lock:
            self._pose.reset()
            for i, (_, rgb) in enumerate(frames):
                out[i] = feet_from_landmarks(self._pose.process(np.ascontiguousarray(rgb)).pose_landmarks)
        return FeetTrack(np.asarray([t for t, _ in frames], np.float64), out)


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
        from mediapipe.python.solutions import pose as mp_pose  # type: ignore[import-untyped]
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
