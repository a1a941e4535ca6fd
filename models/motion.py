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
#: Width over height of the picture the grid, the difference image (64 x 36) and the silhouettes (128 x 72)
#: are laid out for: where a velocity in widths must become a move in heights, the detector assumes it,
#: except for whooshes, which take the picture's own (:attr:`MotionFeatures.aspect`).
ASPECT = 16.0 / 9.0
#: Per-cell channels of :attr:`MotionFeatures.cells`.
CELL_AREA, CELL_VX, CELL_VY, CELL_MAG, CELL_MX, CELL_MY = range(6)
N_CELL_CHANNELS = 6
#: The flow field is averaged down to this size (width, height) before statistics: 16x18 px cells.
STATS_SIZE = (GRID[1] * 16, GRID[0] * 18)
#: A pixel "moves" when its camera-compensated flow exceeds this many analysis pixels (at 256 px width).
MOVE_THRESHOLD_PX = 0.6
HIST_BINS = 32
#: The cut cues' floors: a histogram distance or a mean frame difference (0..1) from the previous frame at or
#: above these may be a cut or the light changing (``models.detect.cut_spikes``); only such frames are also
#: compared with :func:`structure_kept` to the previous frame as it was (not moved by the camera).
CUT_HIST, CUT_DIFF = 0.3, 0.03
#: :func:`structure_kept`: blocks of STRUCT_BLOCK x STRUCT_BLOCK px of the SIL_SIZE frame, compared where both
#: frames vary by STRUCT_MIN_STD gray levels or more inside them, and at least STRUCT_MIN_BLOCKS such blocks.
STRUCT_BLOCK = 8
STRUCT_MIN_STD = 2.0
STRUCT_MIN_BLOCKS = 10
#: :func:`shifted_structure_kept`: the previous frame moved by up to this many pixels (at SIL_SIZE) either way.
STRUCT_SEARCH = 2
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

#: Silhouettes of moving things (:class:`Background`): the frame, averaged down to SIL_SIZE (width, height),
#: against a running background (mean and variance per pixel) moved by the camera. Where it differs by more
#: than SIL_LEVEL gray levels and SIL_SIGMAS standard deviations of the background's own changes is
#: foreground; its connected regions (joined across SIL_JOIN pixels, SIL_MIN_PX pixels or more, at most
#: SIL_MAX_AREA of the image: a larger one is a person or the whole picture, not a thrown thing) are the
#: silhouettes, the BLOBS largest kept with the channels of :data:`BLOBS` (area over the image's pixel count
#: instead of the difference). Unlike a difference blob, a silhouette is the whole object at the frame's
#: moment: a plain or slow object is one region centred on it, not the two ends of its move.
SIL_SIZE = (128, 72)
SIL_LEVEL = 10.0
SIL_SIGMAS = 3.0
SIL_JOIN = 2
SIL_MIN_PX = 12
SIL_MAX_AREA = 0.03
#: Background learning per frame: where the picture is background (mean and variance); where something
#: covers it (slow, so a passing object does not become background); and where the foreground has not
#: changed by SIL_STILL gray levels for more than SIL_STILL_FRAMES frames (the place an object left, an
#: object come to rest). A plain object's inside does not change while it covers a pixel, so it is not
#: learnt before that wait: learnt at once, it left a fading trail behind the object.
SIL_LEARN = 0.1
SIL_LEARN_FG = 0.01
SIL_LEARN_STILL = 0.1
SIL_STILL = 6.0
SIL_STILL_FRAMES = 15
#: More than this fraction of the image in the foreground: a cut or a new view; the background starts again.
SIL_RESET = 0.5

PRESETS = {"normal": "ULTRAFAST", "high": "FAST"}
#: Flow vectors within this many pixels (of a 256 px frame) of the camera model are background.
CAMERA_INLIER_PX = 0.8
#: The affine camera model is used only where this fraction of the picture follows it.
CAMERA_MIN_SUPPORT = 0.5
#: Camera motion (pixels of the analysis frame at the frame's edge) above which the previous frame is
#: warped onto the current one before differencing, so a pan or shake changes no pixels by itself.
CAMERA_WARP_PX = 0.5
#: Where the camera moves, its translation from the flow is refined on the gray frames at SIL_SIZE
#: (:func:`refine_translation`): CAMERA_REFINE Gauss-Newton steps, pixels whose difference after the warp
#: is CAMERA_OUTLIER gray levels or more (what moves by itself) left out.
CAMERA_REFINE = 2
CAMERA_OUTLIER = 25.0


@dataclass
class FrameStats:
    """The features of one frame interval (previous frame -> this frame)."""

    cells: np.ndarray          # (rows, cols, N_CELL_CHANNELS) float32, per-cell means over cell pixels
    camera: tuple[float, float]
    diff: float                # mean absolute frame difference, 0..1
    hist: float                # histogram distance to the previous frame, 0..1 (half L1)
    energy: np.ndarray = field(default_factory=lambda: np.zeros((*GRID, N_ENERGY_CHANNELS), np.float32))
    blobs: np.ndarray = field(default_factory=lambda: np.zeros((BLOBS, N_BLOB_CHANNELS), np.float32))
    silhouettes: np.ndarray = field(default_factory=lambda: np.zeros((BLOBS, N_BLOB_CHANNELS), np.float32))
    #: :func:`structure_kept` from the previous frame moved by the camera (and, past a cut's floor CUT_HIST or
    #: CUT_DIFF, the larger of that and the frame as it was): 1 the same picture, in the same or in another
    #: light; about 0 another picture; NaN where too little of it has texture to tell.
    same: float = float("nan")


@dataclass
class MotionFeatures:
    """Growing, compact per-frame feature arrays of one analysed range."""

    fps: float
    #: The analysed picture's width over its height (ASPECT until a frame is seen).
    aspect: float = ASPECT
    times: list[float] = field(default_factory=list)
    cells: list[np.ndarray] = field(default_factory=list)
    camera: list[tuple[float, float]] = field(default_factory=list)
    diff: list[float] = field(default_factory=list)
    hist: list[float] = field(default_factory=list)
    energy: list[np.ndarray] = field(default_factory=list)
    blobs: list[np.ndarray] = field(default_factory=list)
    silhouettes: list[np.ndarray] = field(default_factory=list)
    same: list[float] = field(default_factory=list)
    #: Video of 48-60 fps: the same range analysed from its even and from its odd frames, at half the rate
    #: (``models.detect.analysis_halves``); empty otherwise.
    halves: list[MotionFeatures] = field(default_factory=list)

    def append(self, time_s: float, stats: FrameStats) -> None:
        self.times.append(float(time_s))
        self.cells.append(stats.cells)
        self.camera.append(stats.camera)
        self.diff.append(stats.diff)
        self.hist.append(stats.hist)
        self.energy.append(stats.energy)
        self.blobs.append(stats.blobs)
        self.silhouettes.append(stats.silhouettes)
        self.same.append(stats.same)

    def __len__(self) -> int:
        return len(self.times)

    def arrays(self) -> dict[str, Any]:
        """Everything as numpy arrays: times (n,), cells (n, rows, cols, C), camera (n, 2), diff, hist (n,);
        and the picture's ``aspect`` (width over height)."""
        n = len(self.times)
        cells = np.stack(self.cells) if n else np.zeros((0, *GRID, N_CELL_CHANNELS), np.float32)
        energy = np.stack(self.energy) if n else np.zeros((0, *GRID, N_ENERGY_CHANNELS), np.float32)
        blobs = np.stack(self.blobs) if n else np.zeros((0, BLOBS, N_BLOB_CHANNELS), np.float32)
        sil = np.stack(self.silhouettes) if n else np.zeros((0, BLOBS, N_BLOB_CHANNELS), np.float32)
        return {"times": np.asarray(self.times, np.float64), "cells": cells, "energy": energy, "blobs": blobs,
                "silhouettes": sil,
                "camera": np.asarray(self.camera, np.float32).reshape(n, 2),
                "diff": np.asarray(self.diff, np.float32), "hist": np.asarray(self.hist, np.float32),
                "same": np.asarray(self.same, np.float32), "aspect": float(self.aspect)}

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays().values() if isinstance(a, np.ndarray))


def gray_histogram(gray: np.ndarray) -> np.ndarray:
    """Normalized gray-level histogram (HIST_BINS,) of a uint8 frame."""
    import cv2

    h = cv2.calcHist([gray], [0], None, [HIST_BINS], [0, 256]).ravel()
    return h / max(float(h.sum()), 1.0)


def structure_kept(prev: np.ndarray, gray: np.ndarray, block: int = STRUCT_BLOCK) -> float:
    """How much of ``prev``'s picture ``gray`` still shows, whatever the light: the median, over the blocks
    of ``block`` x ``block`` px that vary by STRUCT_MIN_STD gray levels or more in both frames, of the two
    frames' correlation inside the block. A lamp switched on, a flash, a change of exposure brighten or darken
    each block by a gain and an offset of its own and leave it near 1; a cut to another picture leaves it
    near 0 (the simulated cuts: 0.06-0.45; consecutive frames of the real clips, the camera taken out: 0.15
    and up, medians 0.95-1.0). NaN where fewer than STRUCT_MIN_BLOCKS blocks have texture in both (a black
    frame: there is nothing to compare)."""
    h, w = (prev.shape[0] // block) * block, (prev.shape[1] // block) * block

    def blocks(img: np.ndarray) -> np.ndarray:
        b = img[:h, :w].astype(np.float32).reshape(h // block, block, w // block, block)
        b = b.transpose(0, 2, 1, 3).reshape(-1, block * block)
        return b - b.mean(axis=1, keepdims=True)

    a, b = blocks(prev), blocks(gray)
    na, nb = np.sqrt((a * a).sum(axis=1)), np.sqrt((b * b).sum(axis=1))
    textured = (na > STRUCT_MIN_STD * block) & (nb > STRUCT_MIN_STD * block)   # std = norm / block
    if int(textured.sum()) < STRUCT_MIN_BLOCKS:
        return float("nan")
    return float(np.median((a * b).sum(axis=1)[textured] / (na * nb)[textured]))


def shifted_structure_kept(prev: np.ndarray, gray: np.ndarray, reach: int = STRUCT_SEARCH) -> float:
    """:func:`structure_kept` of ``gray`` with ``prev`` moved by the whole-pixel shift, up to ``reach`` either
    way, that keeps the most (the frame's border left out): a hand-held camera that moved while the light
    changed, where the flow's camera map is thrown by the light. About 25 comparisons: on a cut's candidates
    only."""
    h, w = gray.shape
    core = gray[reach:h - reach, reach:w - reach]
    best = float("nan")
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            moved = prev[reach + dy:h - reach + dy, reach + dx:w - reach + dx]
            best = float(np.fmax(best, structure_kept(moved, core)))
    return best


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


def column_median(a: np.ndarray) -> np.ndarray:
    """``np.median(a, axis=0)`` of a small (n, k) array, the same values, by a full sort: numpy's selection is
    several times slower than sorting a few hundred values, and this runs on every frame."""
    s = np.sort(a, axis=0)
    n = len(a)
    return s[n // 2] if n % 2 else np.mean(s[n // 2 - 1:n // 2 + 1], axis=0)


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
    med = column_median(f).astype(np.float64)
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
        cam = column_median(flow[::3, ::3].reshape(-1, 2))
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
    mask = cv2.dilate(changed.view(np.uint8), _square(1))
    n, labels = cv2.connectedComponents(mask, connectivity=8)
    if n <= 1:
        return out
    h, w = small.shape
    weight = np.where(changed, small, 0).astype(np.float64).ravel()
    lab = labels.ravel()
    energy = np.bincount(lab, weight, n)
    size = np.bincount(lab, minlength=n)   # of the joined region
    ok = np.flatnonzero((energy > 0) & (size >= BLOB_MIN_PX))
    ok = ok[ok > 0]
    if not len(ok):
        return out
    ok = ok[np.argsort(-energy[ok], kind="stable")][:count]
    xs, ys = _pixel_centres(h, w)
    sx = np.bincount(lab, weight * xs, n)[ok]
    sy = np.bincount(lab, weight * ys, n)[ok]
    rows = len(ok)
    out[:rows, BLOB_ENERGY] = energy[ok] / 255.0 / small.size
    out[:rows, BLOB_X] = sx / energy[ok] / w
    out[:rows, BLOB_Y] = sy / energy[ok] / w
    out[:rows, BLOB_EDGE] = _on_border(labels, n)[ok]
    return out


def _on_border(labels: np.ndarray, n: int) -> np.ndarray:
    """(n,) whether each of the ``n`` labelled regions has a pixel on the image's edge (is cut by it)."""
    border = np.zeros(n, bool)
    border[labels.ravel().take(_border_pixels(*labels.shape))] = True
    return border


@functools.lru_cache(maxsize=4)
def _border_pixels(h: int, w: int) -> np.ndarray:
    """Flat indices of the pixels on the edge of an (h, w) image."""
    edge = np.zeros((h, w), bool)
    edge[[0, -1], :] = True
    edge[:, [0, -1]] = True
    return np.flatnonzero(edge)


def forward_map(m: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """The 2 x 3 warp that moves each pixel p of the previous frame to p + d(p), for the camera's
    displacement d(p) = m @ (x, y, 1) in pixels, in an image ``scale`` times that size."""
    fwd = m.astype(np.float64).copy()
    fwd[:, 2] *= scale
    fwd[:, :2] += np.eye(2)
    return fwd


def refine_translation(prev: np.ndarray, cur: np.ndarray, m: np.ndarray, scale: float = 1.0,
                       steps: int = CAMERA_REFINE, outlier: float = CAMERA_OUTLIER) -> np.ndarray:
    """The camera map ``m`` (2 x 3, displacement d(p) = m @ (x, y, 1) in pixels of a frame ``1 / scale``
    times the size of these uint8 frames) with its translation refined so that ``prev`` moved by it matches
    ``cur`` in the least-squares sense over
    all the picture's gradients (Lucas-Kanade on the whole frame). The flow's vectors on a texture of one
    orientation (stripes, a fence, blinds) are free along it, and a robust fit to them can be off by a
    pixel; the gradients of every orientation in the picture (an edge, a floor line) fix it. A band of 3 px
    at the border (replicated by the warp) and pixels that differ by ``outlier`` or more in the last step
    (what moves by itself; ``steps`` times that in the first) are left out."""
    import cv2

    h, w = cur.shape
    b = 3
    inner = (slice(b, h - b), slice(b, w - b))
    curf = cur.astype(np.float32)
    g = np.stack([cv2.Sobel(curf, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)[inner],
                  cv2.Sobel(curf, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)[inner]]).reshape(2, -1)
    c = curf[inner].ravel()
    out = m.astype(np.float64).copy()
    out[:, 2] *= scale   # in these frames' pixels while refined
    for i in range(steps):
        moved = cv2.warpAffine(prev, forward_map(out), (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        r = c - moved[inner].ravel()
        # what moves by itself adds nothing; the first steps allow more, as edges still a pixel off differ more
        gk = g * (np.abs(r) < np.float32(outlier * (steps - i)))
        (axx, axy), (_, ayy) = (gk @ g.T).tolist()
        bx, by = (gk @ r).tolist()
        det = axx * ayy - axy * axy
        if det <= 1e-6 * max((axx + ayy) ** 2, 1e-12):
            break   # nothing in the picture fixes the translation (a blank frame)
        # moved(p) = prev(p - d): r = cur - moved ~ -grad . (d_true - d)
        out[0, 2] -= (ayy * bx - axy * by) / det
        out[1, 2] -= (axx * by - axy * bx) / det
    out[:, 2] /= scale
    return out


@functools.lru_cache(maxsize=4)
def _square(radius: int) -> np.ndarray:
    """The dilation kernel that joins regions up to 2 * ``radius`` pixels apart."""
    return np.ones((2 * radius + 1,) * 2, np.uint8)


@functools.lru_cache(maxsize=4)
def _ones(h: int, w: int) -> np.ndarray:
    """An (h, w) uint8 image of ones: warped by the camera, the zeros are what it brings into view."""
    return np.ones((h, w), np.uint8)


@functools.lru_cache(maxsize=4)
def _pixel_centres(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y of each pixel's centre, flattened, for an (h, w) image."""
    return np.tile(np.arange(w) + 0.5, h), np.repeat(np.arange(h) + 0.5, w)


class Background:
    """A running background of the picture at SIL_SIZE, moved along with the camera, and the silhouettes of
    what moves against it (see SIL_SIZE)."""

    def __init__(self) -> None:
        self._bg: np.ndarray | None = None      # float32 gray levels
        self._var: np.ndarray | None = None     # float32 variance of the background's own changes
        self._still: np.ndarray | None = None   # uint8 frames each foreground pixel has not changed

    def reset(self) -> None:
        self._bg = self._var = self._still = None

    def _restart(self, cur: np.ndarray) -> None:
        self._bg, self._var, self._still = cur.copy(), np.zeros_like(cur), np.zeros(cur.shape, np.uint8)

    def step(self, small: np.ndarray, prev: np.ndarray | None = None, camera: np.ndarray | None = None) -> np.ndarray:
        """Silhouettes (BLOBS, N_BLOB_CHANNELS) in the uint8 frame ``small`` (SIL_SIZE), largest first.
        ``prev``: the frame before, moved by the camera onto this one (None for a shot's first frame);
        ``camera``: the 2 x 3 map that moved it (None where the camera is still)."""
        import cv2

        out = np.zeros((BLOBS, N_BLOB_CHANNELS), np.float32)
        cur = small.astype(np.float32)
        if self._bg is None or self._bg.shape != cur.shape or prev is None:
            self._restart(cur)
            return out
        h, w = cur.shape
        bg, var, still_for = self._bg, self._var, self._still
        assert var is not None and still_for is not None  # made with the background
        if camera is not None:
            bg = cv2.warpAffine(bg, camera, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            var = cv2.warpAffine(var, camera, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            still_for = cv2.warpAffine(still_for, camera, (w, h), flags=cv2.INTER_NEAREST)
            # what the camera brings into view from outside the frame is background as it is first seen
            unseen = cv2.warpAffine(_ones(h, w), camera, (w, h), flags=cv2.INTER_NEAREST) == 0
            bg[unseen] = cur[unseen]
            var[unseen] = 0.0
        dev = cv2.absdiff(cur, bg)
        dev2 = cv2.multiply(dev, dev)
        fg8 = (dev2 > np.maximum(var * np.float32(SIL_SIGMAS ** 2), np.float32(SIL_LEVEL ** 2))).view(np.uint8)
        count = cv2.countNonZero(fg8)
        if count > SIL_RESET * h * w:
            self._restart(cur)
            return out
        back = 1 - fg8
        cv2.accumulateWeighted(dev2, var, SIL_LEARN, mask=back)
        if count:
            still = (cv2.absdiff(small, prev) < SIL_STILL).view(np.uint8) & fg8
            np.minimum(still_for, 254, out=still_for)
            still_for += 1
            still_for *= still
            ghost = (still_for > SIL_STILL_FRAMES).view(np.uint8)
            cv2.accumulateWeighted(cur, bg, SIL_LEARN, mask=back)
            cv2.accumulateWeighted(cur, bg, SIL_LEARN_STILL, mask=ghost)
            cv2.accumulateWeighted(cur, bg, SIL_LEARN_FG, mask=fg8 & (1 - ghost))
        else:
            still_for[:] = 0
            cv2.accumulateWeighted(cur, bg, SIL_LEARN)
        fg = fg8.view(bool)
        self._bg, self._var, self._still = bg, var, still_for
        if not count:
            return out
        mask = cv2.dilate(fg8, _square(SIL_JOIN))
        n, labels = cv2.connectedComponents(mask, connectivity=8)
        inside = fg.ravel()
        lab = labels.ravel()[inside]
        xs, ys = _pixel_centres(h, w)
        area = np.bincount(lab, minlength=n).astype(np.float64)
        ok = np.flatnonzero((area >= SIL_MIN_PX) & (area <= SIL_MAX_AREA * h * w))
        ok = ok[ok > 0]
        if not len(ok):
            return out
        ok = ok[np.argsort(-area[ok], kind="stable")][:BLOBS]
        sx = np.bincount(lab, xs[inside], n)[ok]
        sy = np.bincount(lab, ys[inside], n)[ok]
        rows = len(ok)
        out[:rows, BLOB_ENERGY] = area[ok] / (h * w)
        out[:rows, BLOB_X] = sx / area[ok] / w
        out[:rows, BLOB_Y] = sy / area[ok] / w
        out[:rows, BLOB_EDGE] = _on_border(labels, n)[ok]
        return out


class MotionAnalyzer:
    """Stateful per-frame feature extractor: feed gray frames in order, get :class:`FrameStats` back."""

    def __init__(self, precision: str = "normal"):
        import cv2

        preset = getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{PRESETS.get(precision, 'ULTRAFAST')}")
        self._dis = cv2.DISOpticalFlow_create(preset)  # type: ignore[attr-defined]  # missing from cv2's stubs
        self._prev: np.ndarray | None = None
        self._prev_hist: np.ndarray | None = None
        self._background = Background()
        self._prev_small: np.ndarray | None = None   # the previous frame at SIL_SIZE

    def reset(self) -> None:
        self._prev = None
        self._prev_hist = None
        self._background.reset()

    @staticmethod
    def _camera_map(affine: np.ndarray, small_w: int, shape: tuple[int, ...]) -> np.ndarray | None:
        """The camera's displacement d(p) = m @ (x, y, 1) in pixels of the frame of ``shape``, or None where
        it moves no point of the frame by CAMERA_WARP_PX (at 256 px)."""
        h, w = shape[:2]
        scale = w / float(small_w)   # the map's coordinates are pixels of the averaged-down field
        m = affine.copy()
        m[:, :2] /= scale
        corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64)
        if np.abs(corners @ m.T).max() * 256.0 / w < CAMERA_WARP_PX:
            return None
        return m

    def _compensated(self, m: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
        """The previous frame moved by the camera map ``m`` (:meth:`_camera_map`) onto the current one.

        The flow is defined on the previous frame's pixels: prev(p) = cur(p + d(p)) for the background, so
        warping the previous frame forward by p -> p + d(p) lines its background up with the current one."""
        import cv2

        prev = self._prev
        assert prev is not None
        if m is None:
            return prev
        h, w = shape[:2]
        return cv2.warpAffine(prev, forward_map(m), (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def step(self, gray: np.ndarray) -> FrameStats:
        """Features of the interval from the previous frame to ``gray`` (zeros for the first frame)."""
        import cv2

        hist = gray_histogram(gray)
        if self._prev is None or self._prev.shape != gray.shape:
            self._prev, self._prev_hist = gray, hist
            self._background.reset()
            self._prev_small = cv2.resize(gray, SIL_SIZE, interpolation=cv2.INTER_AREA)
            self._background.step(self._prev_small)
            return FrameStats(np.zeros((*GRID, N_CELL_CHANNELS), np.float32), (0.0, 0.0), 0.0, 0.0)
        prev_hist = self._prev_hist
        assert prev_hist is not None  # set together with self._prev
        flow = self._dis.calc(self._prev, gray, None)
        small = cv2.resize(flow, STATS_SIZE, interpolation=cv2.INTER_AREA)
        affine = camera_affine(small)
        small_gray = cv2.resize(gray, SIL_SIZE, interpolation=cv2.INTER_AREA)
        m = self._camera_map(affine, small.shape[1], gray.shape)
        cells, cam = cell_sums(small, gray.shape[1], camera=affine)
        if m is not None and CAMERA_REFINE > 0 and self._prev_small is not None:
            # The picture's own gradients fix the camera's translation where the flow's vectors could not
            # (a texture of one orientation). It moves the previous frame for the difference and the
            # silhouettes, and it is the camera's motion kept per frame; the flow's cells keep the flow's
            # own camera, whose error along such a texture is the same as their vectors' there.
            refined = refine_translation(self._prev_small, small_gray, m, scale=SIL_SIZE[0] / gray.shape[1])
            shift = (refined[:, 2] - m[:, 2]) / gray.shape[1]   # in widths, as the camera's motion is kept
            cam = (cam[0] + float(shift[0]), cam[1] + float(shift[1]))
            m = refined
        prev = self._compensated(m, gray.shape)
        absdiff = cv2.absdiff(prev, gray)
        diff = float(absdiff.mean()) / 255.0
        small_diff = diff_image(absdiff)
        energy = diff_energy(absdiff, small=small_diff)
        energy[..., EN_RISE] = brightening(prev, gray)
        dist = histogram_distance(hist, prev_hist)
        self._prev, self._prev_hist = gray, hist
        if m is None:   # the previous frame as it was: its small copy is the one made a step ago
            prev_small = self._prev_small
            silhouettes = self._background.step(small_gray, prev_small)
        else:
            prev_small = cv2.resize(prev, SIL_SIZE, interpolation=cv2.INTER_AREA)
            silhouettes = self._background.step(small_gray, prev_small, forward_map(m, SIL_SIZE[0] / gray.shape[1]))
        same = structure_kept(prev_small, small_gray) if prev_small is not None else float("nan")
        if (dist >= CUT_HIST or diff >= CUT_DIFF) and self._prev_small is not None:
            # Where the light changes at once the flow, and so the camera's map, can be wrong: the frame as it
            # was is compared too, moved by up to STRUCT_SEARCH px either way.
            same = float(np.fmax(same, shifted_structure_kept(self._prev_small, small_gray)))
        self._prev_small = small_gray
        return FrameStats(cells, cam, diff, dist, energy, diff_blobs(small_diff), silhouettes, same)
