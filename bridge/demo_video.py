"""Synthetic videos with known events: textured objects on piecewise-linear paths, rendered with PyAV.

An object's path is a list of keys ``(time_s, x, y)`` (0..1 of the frame, the object's centre); it moves at
constant velocity between keys and rests before the first and after the last. A key where the object arrives
moving and then stops or turns back is an impact; the truth is computed from the keys, so it is exact and
sub-frame. A hard cut swaps the background at a known time.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from bridge.errors import OutputError

log = logging.getLogger("foley.demo")

Key = tuple[float, float, float]


@dataclass
class Mover:
    """A textured disc following ``keys`` (time_s, x, y); ``radius`` is a fraction of the frame height."""

    keys: list[Key]
    radius: float = 0.12
    color: tuple[int, int, int] = (220, 80, 40)
    seed: int = 1

    def position(self, t: float) -> tuple[float, float]:
        ts = [k[0] for k in self.keys]
        return (float(np.interp(t, ts, [k[1] for k in self.keys])),
                float(np.interp(t, ts, [k[2] for k in self.keys])))

    def impacts(self, min_speed: float = 0.2) -> list[tuple[float, float, float]]:
        """Keys where the object arrives at >= ``min_speed`` frame units/s and then stops or turns back:
        (time_s, x, y)."""
        out = []
        for i in range(1, len(self.keys)):
            t0, x0, y0 = self.keys[i - 1]
            t1, x1, y1 = self.keys[i]
            v_in = np.array([x1 - x0, y1 - y0]) / max(t1 - t0, 1e-9)
            speed = float(np.linalg.norm(v_in))
            if speed < min_speed or not (0.0 < x1 < 1.0 and 0.0 < y1 < 1.0):
                continue
            if i + 1 < len(self.keys):
                t2, x2, y2 = self.keys[i + 1]
                v_out = np.array([x2 - x1, y2 - y1]) / max(t2 - t1, 1e-9)
            else:
                v_out = np.zeros(2)
            if float(v_out @ v_in) / speed < 0.3 * speed:
                out.append((t1, x1, y1))
        return out


@dataclass
class SceneSpec:
    width: int = 640
    height: int = 360
    fps: float = 30.0
    seconds: float = 3.0
    movers: list[Mover] = field(default_factory=list)
    cut_s: float | None = None
    seed: int = 0
    codec: str = "libx264"


@dataclass
class DemoTruth:
    """What a rendered scene contains, in media seconds."""

    fps: float
    impacts: list[tuple[float, float, float]]       # (time_s, x, y)
    cuts: list[float]
    swipes: list[tuple[float, float]] = field(default_factory=list)  # (start_s, end_s) of fast crossings

    @property
    def impact_times(self) -> list[float]:
        return [t for t, _, _ in self.impacts]


def _background(w: int, h: int, seed: int) -> np.ndarray:
    """A smooth, low-contrast textured backdrop with a floor band (uint8 RGB)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(60, 120, size=(h // 40 + 2, w // 40 + 2, 3)).astype(np.uint8)
    import cv2

    bg = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    bg[int(h * 0.9):] = (bg[int(h * 0.9):] * 0.6).astype(np.uint8)
    return np.ascontiguousarray(bg)


def _sprite(radius_px: int, color: tuple[int, int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A checker-textured disc (RGB) and its mask, so optical flow has texture to follow."""
    d = 2 * radius_px + 1
    yy, xx = np.mgrid[-radius_px:radius_px + 1, -radius_px:radius_px + 1]
    mask = (xx * xx + yy * yy) <= radius_px * radius_px
    cell = max(2, radius_px // 3)
    checker = (((xx + radius_px) // cell + (yy + radius_px) // cell) % 2).astype(np.float32)
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0.8, 1.0, size=(d, d)).astype(np.float32)
    shade = (0.45 + 0.55 * checker) * noise
    rgb = (np.asarray(color, np.float32)[None, None, :] * shade[..., None]).clip(0, 255).astype(np.uint8)
    return rgb, mask


def _paste(frame: np.ndarray, sprite: np.ndarray, mask: np.ndarray, cx: int, cy: int) -> None:
    h, w = frame.shape[:2]
    r = sprite.shape[0] // 2
    x0, y0, x1, y1 = cx - r, cy - r, cx + r + 1, cy + r + 1
    sx0, sy0 = max(0, -x0), max(0, -y0)
    sx1, sy1 = sprite.shape[1] - max(0, x1 - w), sprite.shape[0] - max(0, y1 - h)
    if sx1 <= sx0 or sy1 <= sy0:
        return
    region = frame[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]
    m = mask[sy0:sy1, sx0:sx1]
    region[m] = sprite[sy0:sy1, sx0:sx1][m]


def render_scene(path: str | os.PathLike, spec: SceneSpec) -> DemoTruth:
    """Encode ``spec`` to ``path`` (H.264 or MPEG-4 Part 2, yuv420p), written atomically; return the truth."""
    import av

    path = Path(path)
    w, h = spec.width - spec.width % 2, spec.height - spec.height % 2
    n = int(round(spec.seconds * spec.fps))
    backs = [_background(w, h, spec.seed), (255 - _background(w, h, spec.seed + 101))[:, ::-1].copy()]
    sprites = [_sprite(max(3, int(m.radius * h)), m.color, m.seed) for m in spec.movers]
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    from fractions import Fraction

    from av.video.stream import VideoStream

    try:
        with av.open(str(tmp), mode="w") as container:
            # spec.codec names a video encoder (libx264, mpeg4), so the stream is a video stream
            stream = cast(VideoStream, container.add_stream(spec.codec,
                                                            rate=Fraction(spec.fps).limit_denominator(1001)))
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            if spec.codec == "libx264":
                stream.options = {"preset": "ultrafast", "crf": "18"}
            else:
                stream.bit_rate = 8_000_000
            for i in range(n):
                t = i / spec.fps
                cut = spec.cut_s is not None and t >= spec.cut_s - 1e-9
                frame = backs[1 if cut else 0].copy()
                for mover, (rgb, mask) in zip(spec.movers, sprites):
                    x, y = mover.position(t)
                    _paste(frame, rgb, mask, int(round(x * w)), int(round(y * h)))
                vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
                for packet in stream.encode(vf):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    except (OSError, av.error.FFmpegError) as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write demo video {str(path)!r}: {exc}; "
                          "check the folder exists and is writable") from None
    impacts = sorted(i for m in spec.movers for i in m.impacts() if i[0] < n / spec.fps)
    swipes = []
    for m in spec.movers:
        xs = [k[1] for k in m.keys]
        if min(xs) < 0.0 and max(xs) > 1.0:
            inside = [k[0] for k in m.keys]
            swipes.append((float(np.interp(0.0, xs, inside)) if xs[0] < xs[-1] else inside[0],
                           float(np.interp(1.0, xs, inside)) if xs[0] < xs[-1] else inside[-1]))
    log.info("rendered %s: %d frames, %d impacts", path, n, len(impacts))
    return DemoTruth(fps=spec.fps, impacts=impacts, cuts=[spec.cut_s] if spec.cut_s is not None else [],
                     swipes=swipes)


def drop(x: float, t0: float, t_hit: float, y0: float = 0.15, floor: float = 0.8,
         bounce: float = 0.35, step_s: float = 1 / 240) -> list[Key]:
    """Keys of an object falling under gravity from ``y0`` (resting until ``t0``), hitting ``floor`` at
    ``t_hit``, bouncing up to ``bounce`` of the drop height and landing again (a second, softer impact).
    The parabolas are sampled every ``step_s`` so the apex is smooth (no impact there)."""
    fall = t_hit - t0
    g = 2.0 * (floor - y0) / fall ** 2
    keys: list[Key] = [(t0 + s, x, y0 + 0.5 * g * s * s) for s in np.arange(0.0, fall, step_s)]
    keys.append((t_hit, x, floor))
    v_up = float(np.sqrt(2.0 * g * bounce * (floor - y0)))
    flight = 2.0 * v_up / g
    keys += [(t_hit + s, x, floor - v_up * s + 0.5 * g * s * s) for s in np.arange(step_s, flight, step_s)]
    keys.append((t_hit + flight, x, floor))
    return keys


def walk(t_land: float, steps: int, x0: float, dx: float = 0.15, period: float = 1.0, floor: float = 0.85,
         lift: float = 0.08, swing: float = 0.35) -> list[Key]:
    """Keys of one foot walking: resting at ``x0`` on ``floor``, then ``steps`` times lifting, swinging
    forward by ``dx`` (negative: leftwards) over ``swing`` seconds with its top ``lift`` above the floor
    half-way, and planting at ``t_land + i * period`` (arriving down and forward, then resting)."""
    keys: list[Key] = [(0.0, x0, floor)]
    x = x0
    for i in range(steps):
        land = t_land + i * period
        keys += [(land - swing, x, floor), (land - swing / 2.0, x + dx / 2.0, floor - lift)]
        x += dx
        keys.append((land, x, floor))
    keys.append((t_land + (steps - 1) * period + 0.5, x, floor))
    return keys


def make_demo_video(path: str | os.PathLike, width: int = 640, height: int = 360, fps: float = 30.0,
                    seconds: float = 6.0, codec: str = "libx264") -> DemoTruth:
    """The demo: two drops with bounces, a ball hitting the right wall, one fast swipe, one hard cut."""
    seconds = max(seconds, 6.0)
    movers = [
        Mover(drop(0.25, 0.2, 0.9), color=(230, 90, 40), seed=1),
        Mover([(1.9, 0.5, 0.5), (2.4, 0.88, 0.45), (2.9, 0.55, 0.45)], color=(60, 200, 90), seed=2),
        Mover([(2.95, -0.1, 0.3), (3.75, 1.1, 0.3)], radius=0.14, color=(240, 240, 240), seed=3),
        Mover(drop(0.7, 4.3, 5.0, bounce=0.3), color=(80, 120, 240), seed=4),
    ]
    spec = SceneSpec(width=width, height=height, fps=fps, seconds=seconds, movers=movers, cut_s=3.9, codec=codec)
    return render_scene(path, spec)
