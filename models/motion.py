"""Per-frame motion features from small gray frames: DIS optical flow plus frame difference.

Only a few hundred floats are kept per frame (a coarse grid of flow sums, a grid of frame-difference energy
and its centroid, the strongest blobs of the difference, camera motion, cut cues), so a long video runs in
bounded memory: frames are consumed one at a time and dropped.

Units are resolution independent: displacements are in frame widths per frame interval, positions in 0..1.
"""
from __future__ import annotations

import functools
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
#: EN_RISE: the largest brightening of any 8x9 px block of the cell (0..1; a flash, sparks, a smoke puff lit
#: up), measured against the previous frame moved by the camera.
EN_MEAN, EN_X, EN_Y, EN_RISE = range(4)
N_ENERGY_CHANNELS = 4
#: Frame differences (averaged over 8x9 px blocks of the 256 px frame) below this many gray levels are coding
#: noise or slow lighting drift, not motion.
DIFF_NOISE = 2.0

#: Blobs of the frame difference (:func:`diff_blobs`): the BLOBS strongest connected regions of the
#: difference image that :func:`diff_energy` averages (8 x 9 px per cell of GRID), where it changes by more
#: than BLOB_LEVEL gray levels, joined across one pixel. Channels: the blob's difference (0..1, summed over
#: its pixels, over the image's pixel count), its centroid, x and y in widths of that image (so y runs
#: to GRID[0] * 9 / (GRID[1] * 8)), and 1 where it touches the image's edge (partly outside the frame, its
#: centroid lags); empty rows are zeros.
BLOBS = 8
BLOB_LEVEL = 10.0
BLOB_MIN_PX = 3
BLOB_ENERGY, BLOB_X, BLOB_Y, BLOB_EDGE = range(4)
N_BLOB_CHANNELS = 4

PRESETS = {"normal": "ULTRAFAST", "high": "FAST"}
#: Flow vectors within this many pixels (of a 256 px frame) of the camera model are background.
CAMERA_INLIER_PX = 0.8
#: The affine camera model is used only where this fraction of the picture follows it.
CAMERA_MIN_SUPPORT = 0.5
#: Camera motion (pixels of the analysis frame at the frame's edge) above which the previous frame is
#: warped onto the current one before differencing, so a pan or shake changes no pixels by itself.
CAMERA_WARP_PX = 0.5


@dataclass
class FrameStats:
    """The features of one frame interval (previous frame -> this frame)."""

    cells: np.ndarray          # (rows, cols, N_CELL_CHANNELS) float32, per-cell means over cell pixels
    camera: tuple[float, float]
    diff: float                # mean absolute frame difference, 0..1
    hist: float                # histogram distance to the previous frame, 0..1 (half L1)
    energy: np.ndarray = field(default_factory=lambda: np.zeros((*GRID, N_ENERGY_CHANNELS), np.float32))
    blobs: np.ndarray = field(default_factory=lambda: np.zeros((BLOBS, N_BLOB_CHANNELS), np.float32))


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
    blobs: list[np.ndarray] = field(default_factory=list)

    def append(self, time_s: float, stats: FrameStats) -> None:
        self.times.append(float(time_s))
        self.cells.append(stats.cells)
        self.camera.append(stats.camera)
        self.diff.append(stats.diff)
        self.hist.append(stats.hist)
        self.energy.append(stats.energy)
        self.blobs.append(stats.blobs)

    def __len__(self) -> int:
        return len(self.times)

    def arrays(self) -> dict[str, Any]:
        """Everything as numpy arrays: times (n,), cells (n, rows, cols, C), camera (n, 2), diff, hist (n,)."""
        n = len(self.times)
        cells = np.stack(self.cells) if n else np.zeros((0, *GRID, N_CELL_CHANNELS), np.float32)
        energy = np.stack(self.energy) if n else np.zeros((0, *GRID, N_ENERGY_CHANNELS), np.float32)
        blobs = np.stack(self.blobs) if n else np.zeros((0, BLOBS, N_BLOB_CHANNELS), np.float32)
        return {"times": np.asarray(self.times, np.float64), "cells": cells, "energy": energy, "blobs": blobs,
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


@functools.lru_cache(maxsize=8)
def _design(h: int, w: int, step: int) -> np.ndarray:
    """Rows (1, x, y) of the subsampled pixel grid, centred and in frame widths."""
    ys, xs = np.mgrid[0:h:step, 0:w:step]
    xs_c = (xs.ravel() - 0.5 * w) / w
    ys_c = (ys.ravel() - 0.5 * h) / w
    return np.stack([np.ones_like(xs_c), xs_c, ys_c], axis=1)


def camera_affine(flow: np.ndarray, inlier_px: float = CAMERA_INLIER_PX, step: int = 4) -> np.ndarray:
    """The camera's motion in a (H, W, 2) flow field: a 2 x 3 affine map (pixel -> displacement) fitted to
    the background, so a pan, a zoom and the roll of a hand-held camera all leave the flow of things that
    move by themselves.

    Robust by re-weighting: the start is the median flow (a pure translation, right where most of the
    picture is background), then twice an affine least-squares fit to the vectors within ``inlier_px`` of
    the current model. Where fewer than CAMERA_MIN_SUPPORT of the vectors agree with the affine fit the
    median translation is kept (a large moving object is not the camera)."""
    h, w = flow.shape[:2]
    design = _design(h, w, step)
    f = flow[::step, ::step].reshape(-1, 2)
    med = np.median(f, axis=0).astype(np.float64)
    model = np.zeros((3, 2))
    model[0] = med
    tol2 = np.float32((inlier_px * w / 256.0) ** 2)
    need = CAMERA_MIN_SUPPORT * len(f)
    for _ in range(2):
        r = f - (design @ model).astype(np.float32)
        inl = (r * r).sum(axis=1) < tol2
        if inl.sum() < need:
            break
        d = design[inl]
        fit = np.linalg.solve(d.T @ d + 1e-9 * np.eye(3), d.T @ f[inl].astype(np.float64))
        r = f - (design @ fit).astype(np.float32)
        if ((r * r).sum(axis=1) < tol2).sum() < need:
            break
        model = fit
    # as a 2 x 3 map of pixel coordinates: d(x, y) = a + b (x - w/2)/w + c (y - h/2)/w
    a, b, c = model
    out = np.empty((2, 3))
    out[:, 0] = b / w
    out[:, 1] = c / w
    out[:, 2] = a - b * 0.5 - c * 0.5 * h / w
    return out


def camera_field(affine: np.ndarray, h: int, w: int) -> np.ndarray:
    """The (h, w, 2) displacement field of a camera affine map from :func:`camera_affine`."""
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(h, dtype=np.float32)[:, None]
    a = affine.astype(np.float32)
    return np.stack([a[0, 0] * xs + a[0, 1] * ys + a[0, 2], a[1, 0] * xs + a[1, 1] * ys + a[1, 2]], axis=-1)


def cell_sums(flow: np.ndarray, width_px: int, grid: tuple[int, int] = GRID,
              threshold_px: float = MOVE_THRESHOLD_PX,
              camera: np.ndarray | None = None) -> tuple[np.ndarray, tuple[float, float]]:
    """Grid statistics of a (H, W, 2) flow field (possibly averaged down) of a ``width_px``-wide frame.

    Flow vectors are in pixels of the ``width_px`` frame; ``threshold_px`` is given for a 256 px frame.

    Camera motion is removed first: ``camera`` (a 2 x 3 affine map of this field's pixels from
    :func:`camera_affine`), else the median flow. Returns ``(cells, camera)``: cells (rows, cols, 6) with,
    per cell, the moving fraction and the sums over moving pixels of speed*vx, speed*vy, speed, speed*x,
    speed*y divided by the cell's pixel count (so regions are formed by adding cells; speed-weighted means
    follow the fast, well-tracked core of an object rather than the flow's smooth halo around it).
    Velocities are in frame widths per frame interval, x/y in 0..1.
    """
    import cv2

    h, w = flow.shape[:2]
    rows, cols = grid
    scale = 1.0 / float(width_px)
    if camera is None:
        cam = np.median(flow[::3, ::3].reshape(-1, 2), axis=0)
        v = (flow - cam.astype(np.float32)) * np.float32(scale)
    else:
        cam = camera[:, 2] + camera[:, 0] * 0.5 * w + camera[:, 1] * 0.5 * h   # at the frame centre
        v = (flow - camera_field(camera, h, w)) * np.float32(scale)
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


def brightening(prev: np.ndarray, gray: np.ndarray, grid: tuple[int, int] = GRID) -> np.ndarray:
    """Per cell of ``grid``, the largest rise in mean brightness (0..1) of any of its 8 x 9 blocks from
    ``prev`` to ``gray`` (uint8 frames of one size)."""
    import cv2

    rows, cols = grid
    size = (cols * 8, rows * 9)
    a = cv2.resize(prev, size, interpolation=cv2.INTER_AREA).astype(np.int16)
    b = cv2.resize(gray, size, interpolation=cv2.INTER_AREA).astype(np.int16)
    rise = (b - a).reshape(rows, 9, cols, 8).max(axis=(1, 3))
    return np.maximum(rise, 0).astype(np.float32) * np.float32(1.0 / 255.0)


def diff_image(absdiff: np.ndarray, grid: tuple[int, int] = GRID) -> np.ndarray:
    """A uint8 absolute frame difference averaged down to 8 x 9 px per cell of ``grid``."""
    import cv2

    rows, cols = grid
    return cv2.resize(absdiff, (cols * 8, rows * 9), interpolation=cv2.INTER_AREA)


def diff_energy(absdiff: np.ndarray, grid: tuple[int, int] = GRID, noise: float = DIFF_NOISE,
                small: np.ndarray | None = None) -> np.ndarray:
    """Per-cell motion energy of a uint8 absolute frame difference: (rows, cols, N_ENERGY_CHANNELS) with the cell
    means of the difference above ``noise`` (0..1) and of that times x and times y (positions in frame widths);
    EN_RISE is left 0 (:func:`brightening` fills it). ``small``: the difference's :func:`diff_image`, when
    already made.

    Unlike optical flow it does not depend on tracking: a fast or finely textured object that the flow loses
    still changes the pixels it crosses, and the centroid of that change follows the object."""
    import cv2

    rows, cols = grid
    small = diff_image(absdiff, grid) if small is None else small
    h, w = small.shape
    d = np.maximum(small.astype(np.float32) - np.float32(noise), 0.0) * np.float32(1.0 / 255.0)
    chans = np.empty((h, w, 3), np.float32)
    chans[..., EN_MEAN] = d
    np.multiply(d, (np.arange(w, dtype=np.float32) + 0.5)[None, :] / w, out=chans[..., EN_X])
    np.multiply(d, (np.arange(h, dtype=np.float32) + 0.5)[:, None] / w, out=chans[..., EN_Y])
    cells = cv2.resize(chans[..., :3], (cols, rows), interpolation=cv2.INTER_AREA)
    out = np.zeros((rows, cols, N_ENERGY_CHANNELS), np.float32)
    out[..., :3] = cells.reshape(rows, cols, 3)
    return out


def diff_blobs(small: np.ndarray, level: float = BLOB_LEVEL, count: int = BLOBS) -> np.ndarray:
    """The ``count`` strongest blobs of a :func:`diff_image`: (count, N_BLOB_CHANNELS), strongest first.

    A blob is a connected region (8-connected after a one-pixel dilation, so the two ends of an object that
    moved further than its size in one interval stay one blob) of pixels changed by more than ``level``
    gray levels, with BLOB_MIN_PX pixels or more. Its centroid is weighted by the difference. A small or
    fast object the optical flow loses is such a blob from frame to frame: :func:`models.detect.blob_bounces`
    follows them."""
    import cv2

    out = np.zeros((count, N_BLOB_CHANNELS), np.float32)
    changed = small > level
    if not changed.any():
        return out
    mask = cv2.dilate(changed.astype(np.uint8), np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return out
    h, w = small.shape
    weight = np.where(changed, small, 0).astype(np.float64).ravel()
    lab = labels.ravel()
    energy = np.bincount(lab, weight, n)
    sx = np.bincount(lab, weight * np.tile(np.arange(w) + 0.5, h), n)
    sy = np.bincount(lab, weight * np.repeat(np.arange(h) + 0.5, w), n)
    ok = [i for i in range(1, n) if energy[i] > 0 and stats[i, cv2.CC_STAT_AREA] >= BLOB_MIN_PX]
    ok.sort(key=lambda i: -energy[i])
    for row, i in enumerate(ok[:count]):
        x0, y0 = stats[i, cv2.CC_STAT_LEFT], stats[i, cv2.CC_STAT_TOP]
        edge = x0 == 0 or y0 == 0 or x0 + stats[i, cv2.CC_STAT_WIDTH] >= w or y0 + stats[i, cv2.CC_STAT_HEIGHT] >= h
        out[row] = (energy[i] / 255.0 / small.size, sx[i] / energy[i] / w, sy[i] / energy[i] / w, float(edge))
    return out


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

    def _compensated(self, affine: np.ndarray, small_w: int, shape: tuple[int, ...]) -> np.ndarray:
        """The previous frame moved by the camera onto the current one (itself where the camera is still).

        The flow is defined on the previous frame's pixels: prev(p) = cur(p + d(p)) for the background, so
        warping the previous frame forward by p -> p + d(p) lines its background up with the current one."""
        import cv2

        prev = self._prev
        assert prev is not None
        h, w = shape[:2]
        scale = w / float(small_w)   # the map's coordinates are pixels of the averaged-down field
        m = affine.copy()
        m[:, :2] /= scale
        corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64)
        if np.abs(corners @ m.T).max() * 256.0 / w < CAMERA_WARP_PX:
            return prev
        # the previous pixel p is seen at p + d(p) in the current frame
        fwd = m.copy()
        fwd[:, :2] += np.eye(2)
        return cv2.warpAffine(prev, fwd, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def step(self, gray: np.ndarray) -> FrameStats:
        """Features of the interval from the previous frame to ``gray`` (zeros for the first frame)."""
        import cv2

        hist = gray_histogram(gray)
        if self._prev is None or self._prev.shape != gray.shape:
            self._prev, self._prev_hist = gray, hist
            return FrameStats(np.zeros((*GRID, N_CELL_CHANNELS), np.float32), (0.0, 0.0), 0.0, 0.0)
        prev_hist = self._prev_hist
        assert prev_hist is not None  # set together with self._prev
        flow = self._dis.calc(self._prev, gray, None)
        small = cv2.resize(flow, STATS_SIZE, interpolation=cv2.INTER_AREA)
        affine = camera_affine(small)
        cells, cam = cell_sums(small, gray.shape[1], camera=affine)
        prev = self._compensated(affine, small.shape[1], gray.shape)
        absdiff = cv2.absdiff(prev, gray)
        diff = float(absdiff.mean()) / 255.0
        small_diff = diff_image(absdiff)
        energy = diff_energy(absdiff, small=small_diff)
        energy[..., EN_RISE] = brightening(prev, gray)
        dist = histogram_distance(hist, prev_hist)
        self._prev, self._prev_hist = gray, hist
        return FrameStats(cells, cam, diff, dist, energy, diff_blobs(small_diff))
