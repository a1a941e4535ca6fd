"""Per-frame motion features from small gray frames: DIS optical flow plus frame difference.

Only a few hundred floats are kept per frame (a coarse grid of flow sums, a grid of frame-difference energy
and its centroid, camera motion, cut cues), so a long video runs in bounded memory: frames are consumed
one at a time and dropped.

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
#: Channels of :attr:`FrameStats.energy`, per cell of GRID: the mean absolute frame difference (0..1) and its
#: means times x and times y, both in frame widths (so the difference's centroid of any group of cells is
#: EN_X / EN_MEAN, EN_Y / EN_MEAN, in the units of the flow).
EN_MEAN, EN_X, EN_Y = range(3)
N_ENERGY_CHANNELS = 3
#: Frame differences (averaged over 8x9 px blocks of the 256 px frame) below this many gray levels are coding
#: noise or slow lighting drift, not motion.
DIFF_NOISE = 2.0

PRESETS = {"normal": "ULTRAFAST", "high": "FAST"}


@dataclass
class FrameStats:
    """The features of one frame interval (previous frame -> this frame)."""

    cells: np.ndarray          # (rows, cols, N_CELL_CHANNELS) float32, per-cell means over cell pixels
    camera: tuple[float, float]
    diff: float                # mean absolute frame difference, 0..1
    hist: float                # histogram distance to the previous frame, 0..1 (half L1)
    energy: np.ndarray = field(default_factory=lambda: np.zeros((*GRID, N_ENERGY_CHANNELS), np.float32))


@dataclass
class MotionFeatures:
    """Growing, compact per-frame feature arrays of one analysed range."""

    fps: float
    times: list[float] = field(default_factory=list)
    cells: list[np.ndarray] = field(default_factory=list)
    camera: list[tuple[float, float]] = field(default_factory=list)
    diff: list[float] = field(default_factory=list)
    hist: list[float] = field(default_factory=list)
    energy: list[np.ndarray] = field(default_factory=list)

    def append(self, time_s: float, stats: FrameStats) -> None:
        self.times.append(float(time_s))
        self.cells.append(stats.cells)
        self.camera.append(stats.camera)
        self.diff.append(stats.diff)
        self.hist.append(stats.hist)
        self.energy.append(stats.energy)

    def __len__(self) -> int:
        return len(self.times)

    def arrays(self) -> dict[str, Any]:
        """Everything as numpy arrays: times (n,), cells (n, rows, cols, C), camera (n, 2), diff, hist (n,)."""
        n = len(self.times)
        cells = np.stack(self.cells) if n else np.zeros((0, *GRID, N_CELL_CHANNELS), np.float32)
        energy = np.stack(self.energy) if n else np.zeros((0, *GRID, N_ENERGY_CHANNELS), np.float32)
        return {"times": np.asarray(self.times, np.float64), "cells": cells, "energy": energy,
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
    follow the fast, well-tracked core of an object rather than the flow's smooth halo around it).
    Velocities are in frame widths per frame interval, x/y in 0..1.
    """
    import cv2

    h, w = flow.shape[:2]
    rows, cols = grid
    scale = 1.0 / float(width_px)
    cam = np.median(flow[::3, ::3].reshape(-1, 2), axis=0)
    v = (flow - cam.astype(np.float32)) * np.float32(scale)
    vx, vy = v[..., 0], v[..., 1]
    mag = np.sqrt(vx * vx + vy * vy)
    mm = mag * (mag > np.float32(threshold_px / 256.0))
    xs = (np.arange(w, dtype=np.float32) + 0.5) / w
    ys = (np.arange(h, dtype=np.float32) + 0.5) / h
    chans = np.empty((h, w, N_CELL_CHANNELS), np.float32)
    chans[..., CELL_AREA] = mm > 0
    np.multiply(vx, mm, out=chans[..., CELL_VX])
    np.multiply(vy, mm, out=chans[..., CELL_VY])
    chans[..., CELL_MAG] = mm
    np.multiply(mm, xs[None, :], out=chans[..., CELL_MX])
    np.multiply(mm, ys[:, None], out=chans[..., CELL_MY])
    ch, cw = h // rows, w // cols
    # Area averaging over whole cells is the per-cell mean (and much cheaper than a numpy reduction).
    cells = cv2.resize(chans[:rows * ch, :cols * cw], (cols, rows), interpolation=cv2.INTER_AREA)
    return cells.reshape(rows, cols, N_CELL_CHANNELS), (float(cam[0] * scale), float(cam[1] * scale))


def diff_energy(absdiff: np.ndarray, grid: tuple[int, int] = GRID, noise: float = DIFF_NOISE) -> np.ndarray:
    """Per-cell motion energy of a uint8 absolute frame difference: (rows, cols, 3) with the cell means of the
    difference above ``noise`` (0..1) and of that times x and times y (positions in frame widths).

    Unlike optical flow it does not depend on tracking: a fast or finely textured object that the flow loses
    still changes the pixels it crosses, and the centroid of that change follows the object."""
    import cv2

    rows, cols = grid
    small = cv2.resize(absdiff, (cols * 8, rows * 9), interpolation=cv2.INTER_AREA)  # 8x9 px per cell
    h, w = small.shape
    d = np.maximum(small.astype(np.float32) - np.float32(noise), 0.0) * np.float32(1.0 / 255.0)
    chans = np.empty((h, w, N_ENERGY_CHANNELS), np.float32)
    chans[..., EN_MEAN] = d
    np.multiply(d, (np.arange(w, dtype=np.float32) + 0.5)[None, :] / w, out=chans[..., EN_X])
    np.multiply(d, (np.arange(h, dtype=np.float32) + 0.5)[:, None] / w, out=chans[..., EN_Y])
    cells = cv2.resize(chans, (cols, rows), interpolation=cv2.INTER_AREA)
    return cells.reshape(rows, cols, N_ENERGY_CHANNELS)


class MotionAnalyzer:
    """Stateful per-frame feature extractor: feed gray frames in order, get :class:`FrameStats` back."""

    def __init__(self, precision: str = "normal"):
        import cv2

        preset = getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{PRESETS.get(precision, 'ULTRAFAST')}")
        self._dis = cv2.DISOpticalFlow_create(preset)  # type: ignore[attr-defined]  # missing from cv2's stubs
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
            return FrameStats(np.zeros((*GRID, N_CELL_CHANNELS), np.float32), (0.0, 0.0), 0.0, 0.0,
                              np.zeros((*GRID, N_ENERGY_CHANNELS), np.float32))
        prev_hist = self._prev_hist
        assert prev_hist is not None  # set together with self._prev
        flow = self._dis.calc(self._prev, gray, None)
        small = cv2.resize(flow, STATS_SIZE, interpolation=cv2.INTER_AREA)
        cells, cam = cell_sums(small, gray.shape[1])
        absdiff = cv2.absdiff(self._prev, gray)
        diff = float(absdiff.mean()) / 255.0
        energy = diff_energy(absdiff)
        dist = histogram_distance(hist, prev_hist)
        self._prev, self._prev_hist = gray, hist
        return FrameStats(cells, cam, diff, dist, energy)
