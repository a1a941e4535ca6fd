"""Per-frame motion features from small gray frames: DIS optical flow plus frame difference.

Only a few hundred floats are kept per frame (a coarse grid of flow sums, camera motion, cut cues), so a
long video runs in bounded memory: frames are consumed one at a time and dropped.

Units are resolution independent: displacements are in frame widths per frame interval, positions in 0..1.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger("foley.motion")

#: Grid the flow statistics are summed over (rows, cols).
GRID = (4, 8)
#: Per-cell channels of :attr:`MotionFeatures.cells`.
CELL_AREA, CELL_VX, CELL_VY, CELL_MAG, CELL_MX, CELL_MY = range(6)
N_CELL_CHANNELS = 6
#: The flow field is averaged down to this size (width, height) before statistics: 16x18 px cells.
STATS_SIZE = (GRID[1] * 16, GRID[0] * 18)
#: A pixel "moves" when its camera-compensated flow exceeds this many analysis pixels (at 256 px width).
MOVE_THRESHOLD_PX = 0.6
HIST_BINS = 32

PRESETS = {"normal": "ULTRAFAST", "high": "FAST"}


@dataclass
class FrameStats:
    """The features of one frame interval (previous frame -> this frame)."""

    cells: np.ndarray          # (rows, cols, N_CELL_CHANNELS) float32, per-cell means over cell pixels
    camera: tuple[float, float]
    diff: float                # mean absolute frame difference, 0..1
    hist: float                # histogram distance to the previous frame, 0..1 (half L1)


@dataclass
class MotionFeatures:
    """Growing, compact per-frame feature arrays of one analysed range."""

    fps: float
    times: list[float] = field(default_factory=list)
    cells: list[np.ndarray] = field(default_factory=list)
    camera: list[tuple[float, float]] = field(default_factory=list)
    diff: list[float] = field(default_factory=list)
    hist: list[float] = field(default_factory=list)

    def append(self, time_s: float, stats: FrameStats) -> None:
        self.times.append(float(time_s))
        self.cells.append(stats.cells)
        self.camera.append(stats.camera)
        self.diff.append(stats.diff)
        self.hist.append(stats.hist)

    def __len__(self) -> int:
        return len(self.times)

    def arrays(self) -> dict[str, Any]:
        """Everything as numpy arrays: times (n,), cells (n, rows, cols, C), camera (n, 2), diff, hist (n,)."""
        n = len(self.times)
        cells = np.stack(self.cells) if n else np.zeros((0, *GRID, N_CELL_CHANNELS), np.float32)
        return {"times": np.asarray(self.times, np.float64), "cells": cells,
                "camera": np.asarray(self.camera, np.float32).reshape(n, 2),
                "diff": np.asarray(self.diff, np.float32), "hist": np.asarray(self.hist, np.float32)}

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays().values() if isinstance(a, np.ndarray))


def gray_histogram(gray: np.ndarray) -> np.ndarray:
    """Normalized gray-level histogram (HIST_BINS,) of a uint8 frame."""
    import cv2

    h = cv2.calcHist([gray], [0], None, [HIST_BINS], [0, 256]).ravel()
    return h / max(float(h.sum()), 1.0)


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Half the L1 distance between two normalized histograms: 0 same, 1 disjoint."""
    return float(0.5 * np.abs(a - b).sum())


def cell_sums(flow: np.ndarray, width_px: int, grid: tuple[int, int] = GRID,
              threshold_px: float = MOVE_THRESHOLD_PX) -> tuple[np.ndarray, tuple[float, float]]:
    """Grid statistics of a (H, W, 2) flow field (possibly averaged down) of a ``width_px``-wide frame.

    Flow vectors are in pixels of the ``width_px`` frame; ``threshold_px`` is given for a 256 px frame.

    Camera motion (median flow) is removed first. Returns ``(cells, camera)``: cells (rows, cols, 6) with,
    per cell, the moving fraction and the sums over moving pixels of speed*vx, speed*vy, speed, speed*x,
    speed*y divided by the cell's pixel count (so regions are formed by adding cells; speed-weighted means
    follow the fast, well-tracked core of an object rather than the flow's smooth halo around it). Velocities are in frame widths per
    frame interval, x/y in 0..1.
    """
    h, w = flow.shape[:2]
    rows, cols = grid
    scale = 1.0 / float(width_px)
    sub = flow[::3, ::3].reshape(-1, 2)
    cam = np.median(sub, axis=0)
    v = (flow - cam) * scale
    vx, vy = v[..., 0], v[..., 1]
    mag = np.sqrt(vx * vx + vy * vy)
    moving = (mag > threshold_px / 256.0).astype(np.float32)
    mm = mag * moving
    xs = (np.arange(w, dtype=np.float32) + 0.5) / w
    ys = (np.arange(h, dtype=np.float32) + 0.5) / h
    chans = np.stack([moving, vx * mm, vy * mm, mm, mm * xs[None, :], mm * ys[:, None]], axis=-1)
    ch, cw = h // rows, w // cols
    cells = chans[:rows * ch, :cols * cw].reshape(rows, ch, cols, cw, N_CELL_CHANNELS).mean(axis=(1, 3))
    return cells.astype(np.float32), (float(cam[0] * scale), float(cam[1] * scale))


class MotionAnalyzer:
    """Stateful per-frame feature extractor: feed gray frames in order, get :class:`FrameStats` back."""

    def __init__(self, precision: str = "normal"):
        import cv2

        preset = getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{PRESETS.get(precision, 'ULTRAFAST')}")
        self._dis = cv2.DISOpticalFlow_create(preset)
        self._prev: np.ndarray | None = None
        self._prev_hist: np.ndarray | None = None

    def reset(self) -> None:
        self._prev = None
        self._prev_hist = None

    def step(self, gray: np.ndarray) -> FrameStats:
        """Features of the interval from the previous frame to ``gray`` (zeros for the first frame)."""
        import cv2

        hist = gray_histogram(gray)
        if self._prev is None or self._prev.shape != gray.shape:
            self._prev, self._prev_hist = gray, hist
            return FrameStats(np.zeros((*GRID, N_CELL_CHANNELS), np.float32), (0.0, 0.0), 0.0, 0.0)
        flow = self._dis.calc(self._prev, gray, None)
        small = cv2.resize(flow, STATS_SIZE, interpolation=cv2.INTER_AREA)
        cells, cam = cell_sums(small, gray.shape[1])
        diff = float(cv2.absdiff(self._prev, gray).mean()) / 255.0
        dist = histogram_distance(hist, self._prev_hist)
        self._prev, self._prev_hist = gray, hist
        return FrameStats(cells, cam, diff, dist)
