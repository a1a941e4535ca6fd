"""Synthetic scenes with simulated physics and a moving camera, for detection tests and the timing bench.

Independent of :mod:`bridge.demo_video` (whose objects follow hand-written key paths on a fixed camera):
here balls fall under gravity and bounce off the floor and the side walls with a restitution, each contact
time solved exactly; the camera pans and shakes (translation and a small rotation) over a world larger than
the frame; bars swipe across it and blades swing about a pivot (a wiper); the picture gets grain; a shutter
open for part of each frame interval blurs what moves; any frame rate. What is known exactly:

* ``impacts``: every bounce or landing whose speed into the surface is at least ``MIN_HIT`` frame heights per
  second (slower ones end the motion: the ball then rests, so nothing invisible is left in the truth);
* ``swipes``: (start, end) of each bar crossing the frame and of each stroke of a swinging blade (fast
  motion, no contact);
* ``cuts``: hard cuts (the whole world swaps).

Also scenes where nothing makes a sound (:func:`quiet_scene`): water, foliage in wind, a slow pan over a still
scene, hand-held shake, a crowd of small movers, a windscreen wiper's blade.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, cast

import numpy as np

#: Slowest contact (frame heights per second into the surface) that counts as an impact; slower ones rest.
MIN_HIT = 0.6
#: The side walls stand this far (fraction of the frame width) inside the frame's left and right edges.
WALL = 0.06
#: Gravity in frame heights per s^2 (a frame about 1.5 m high: 6.5 ~ 9.8 m/s^2).
GRAVITY = 6.5
#: Moments rendered per frame interval with the shutter fully open (World.shutter): its blur is their mean.
SUBFRAMES = 16


@dataclass
class Ball:
    """A textured disc thrown at ``t0`` from (x, y) with velocity (vx, vy) (frame heights per second; x in
    heights too so speeds are isotropic), bouncing with ``restitution`` off floor and walls."""

    t0: float
    x: float
    y: float
    vx: float = 0.0
    vy: float = 0.0
    radius: float = 0.07
    restitution: float = 0.5
    texture: str = "checker"
    color: tuple[int, int, int] = (220, 90, 40)
    seed: int = 1


@dataclass
class Bar:
    """A tall bar crossing the frame left to right (or back with ``speed`` < 0) starting at ``t0``."""

    t0: float
    speed: float = 3.0      # frame widths per second
    width: float = 0.05     # of the frame width
    color: tuple[int, int, int] = (235, 235, 235)


@dataclass
class Swing:
    """A thin bar turning about a pivot from ``start_deg`` to ``end_deg`` (0: pointing right, 90: up) over
    ``duration`` seconds from ``t0``, at rest before and after, speeding up and slowing down smoothly (half a
    cosine, as a crank drives a windscreen wiper): a wiper's stroke, a swung stick. With ``strokes`` > 1 it
    goes back and forth, resting ``pause`` seconds between strokes. Nothing in it is a contact. The pivot is
    in frame widths from the top left (it may lie outside the frame)."""

    t0: float
    pivot: tuple[float, float] = (0.2, 0.75)
    length: float = 0.9                      # frame widths
    start_deg: float = 170.0
    end_deg: float = 20.0
    duration: float = 0.3
    thickness: float = 0.012                 # frame widths
    color: tuple[int, int, int] = (25, 25, 25)
    strokes: int = 1
    pause: float = 0.0

    def angle(self, t: float) -> float:
        """The bar's angle (radians) at ``t``."""
        period = self.duration + self.pause
        j = int(np.clip(np.floor((t - self.t0) / period), 0, self.strokes - 1))
        done = float(np.clip((t - self.t0 - j * period) / self.duration, 0.0, 1.0))
        a, b = (self.start_deg, self.end_deg) if j % 2 == 0 else (self.end_deg, self.start_deg)
        return float(np.radians(a + (b - a) * 0.5 * (1.0 - np.cos(np.pi * done))))

    def spans(self) -> list[tuple[float, float]]:
        """(start, end) of each stroke."""
        return [(self.t0 + j * (self.duration + self.pause), self.t0 + j * (self.duration + self.pause) + self.duration)
                for j in range(self.strokes)]


@dataclass
class World:
    width: int = 480
    height: int = 270
    fps: float = 30.0
    seconds: float = 3.0
    balls: list[Ball] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    swings: list[Swing] = field(default_factory=list)
    pan: tuple[float, float] = (0.0, 0.0)   # camera velocity, frame widths per second
    shake: float = 0.0                      # hand-held shake amplitude, fraction of the frame width
    grain: float = 0.0                      # gray levels of per-frame noise (std)
    ease: bool = False                      # the pan starts and ends at rest, smoothly
    cut_s: float | None = None
    floor: float = 0.85                     # floor line, fraction of the frame height
    texture: str = "blobs"                  # background: blobs, stripes, noise
    seed: int = 0
    #: Shutter open for this fraction of the frame interval, centred on the frame's moment (0.5: a 180-degree
    #: shutter): what moves is blurred along its path, as a film or video camera records it. 0: a still.
    shutter: float = 0.0


@dataclass
class Truth:
    fps: float
    impacts: list[tuple[float, float, float]]   # (time_s, x, y) in frame units at the contact
    swipes: list[tuple[float, float]]
    cuts: list[float]


def simulate(ball: Ball, aspect: float, floor: float, until: float) -> tuple[Callable[[float], tuple[float, float]],
                                                                              list[tuple[float, float, float]]]:
    """The path of ``ball`` (a function t -> (x, y) in frame heights) and its contacts (t, x, y), solved
    flight by flight: each flight is a parabola ended by the first of floor or wall contact."""
    r = ball.radius
    lo_x, hi_x, bottom = WALL * aspect + r, (1.0 - WALL) * aspect - r, floor - r
    segs: list[tuple[float, float, float, float, float]] = []   # (t_start, x, y, vx, vy)
    hits: list[tuple[float, float, float]] = []
    t, x, y, vx, vy = ball.t0, ball.x, ball.y, ball.vx, ball.vy
    while t < until and len(segs) < 200:
        segs.append((t, x, y, vx, vy))
        # floor: y + vy s + g s^2 / 2 = bottom
        disc = vy * vy + 2 * GRAVITY * (bottom - y)
        s_floor = (-vy + np.sqrt(max(disc, 0.0))) / GRAVITY
        s_wall = np.inf
        if vx > 1e-9:
            s_wall = (hi_x - x) / vx
        elif vx < -1e-9:
            s_wall = (lo_x - x) / vx
        s = min(s_floor, s_wall)
        t += s
        x += vx * s
        y = y + vy * s + 0.5 * GRAVITY * s * s
        vy += GRAVITY * s
        if s_floor <= s_wall:
            y = bottom
            into = vy
            vy = -ball.restitution * vy
            vx *= 0.9
        else:
            into = abs(vx)
            vx = -ball.restitution * vx
        if into < MIN_HIT:
            break
        if t < until:
            hits.append((t, x, y + (r if s_floor <= s_wall else 0.0)))
        if s_floor <= s_wall and abs(vy) < MIN_HIT:   # too slow to bounce visibly: it rests (or rolls)
            segs.append((t, x, y, vx, 0.0))
            break
    rest = (t, x, y)

    def at(tt: float) -> tuple[float, float]:
        if tt <= segs[0][0]:
            return segs[0][1], segs[0][2]
        i = max(i for i, sg in enumerate(segs) if sg[0] <= tt)
        t0, x0, y0, vx0, vy0 = segs[i]
        s = tt - t0
        if i == len(segs) - 1 and vy0 == 0.0 and y0 >= bottom - 1e-9:   # resting or rolling on the floor
            return float(np.clip(x0 + vx0 * s, lo_x, hi_x)), y0
        if i == len(segs) - 1 and tt > rest[0]:
            return rest[1], rest[2]
        return x0 + vx0 * s, y0 + vy0 * s + 0.5 * GRAVITY * s * s

    return at, hits


def _texture(h: int, w: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    import cv2

    if kind == "stripes":
        xx = np.arange(w)[None, :] + 0.5 * np.arange(h)[:, None]
        base = 110 + 50 * np.sign(np.sin(xx / rng.uniform(5, 12)))
        return np.repeat(base[..., None], 3, axis=2).astype(np.uint8)
    if kind == "noise":
        return rng.integers(60, 180, size=(h, w, 3)).astype(np.uint8)
    small = rng.integers(50, 170, size=(h // 24 + 2, w // 24 + 2, 3)).astype(np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _sprite(radius_px: int, kind: str, color: tuple[int, int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[-radius_px:radius_px + 1, -radius_px:radius_px + 1]
    mask = (xx * xx + yy * yy) <= radius_px * radius_px
    if kind == "checker":
        c = max(2, radius_px // 3)
        shade = 0.45 + 0.55 * (((xx + radius_px) // c + (yy + radius_px) // c) % 2)
    elif kind == "stripes":
        shade = 0.5 + 0.5 * (((xx + radius_px) // max(2, radius_px // 4)) % 2)
    elif kind == "noise":
        shade = rng.uniform(0.4, 1.0, size=xx.shape)
    else:   # "flat": a plain disc with a darker rim (low texture: hard for the flow)
        shade = np.where(xx * xx + yy * yy > (0.8 * radius_px) ** 2, 0.6, 1.0)
    rgb = (np.asarray(color, np.float32)[None, None] * shade[..., None]).clip(0, 255).astype(np.uint8)
    return rgb, mask


def _paste(frame: np.ndarray, sprite: np.ndarray, mask: np.ndarray, cx: int, cy: int) -> None:
    h, w = frame.shape[:2]
    r = sprite.shape[0] // 2
    x0, y0 = cx - r, cy - r
    sx0, sy0 = max(0, -x0), max(0, -y0)
    sx1, sy1 = sprite.shape[1] - max(0, x0 + sprite.shape[1] - w), sprite.shape[0] - max(0, y0 + sprite.shape[0] - h)
    if sx1 <= sx0 or sy1 <= sy0:
        return
    region = frame[y0 + sy0:y0 + sy1, x0 + sx0:x0 + sx1]
    m = mask[sy0:sy1, sx0:sx1]
    region[m] = sprite[sy0:sy1, sx0:sx1][m]


def camera_path(world: World, n: int) -> np.ndarray:
    """Per frame (dx, dy, angle_rad): the camera's offset in pixels and roll. Shake is smoothed noise (a
    hand's tremor, a few Hz) in translation and a little in rotation."""
    rng = np.random.default_rng(world.seed + 7)
    t = np.arange(n) / world.fps
    ramp = t - world.seconds / (2 * np.pi) * np.sin(2 * np.pi * t / world.seconds) if world.ease else t
    dx = world.pan[0] * world.width * ramp
    dy = world.pan[1] * world.width * ramp
    ang = np.zeros(n)
    if world.shake > 0:
        k = max(1, int(round(world.fps / 6)))
        for arr, amp in ((dx, world.shake * world.width), (dy, world.shake * world.width), (ang, world.shake * 0.6)):
            raw = rng.normal(0, 1, n + 2 * k)
            sm = np.convolve(raw, np.hanning(2 * k + 1) / np.hanning(2 * k + 1).sum(), mode="same")[k:k + n]
            arr += amp * sm / max(float(sm.std()), 1e-9)
    return np.stack([dx, dy, ang], axis=1)


def frames(world: World) -> tuple[list[np.ndarray], Truth]:
    """Render ``world``: RGB frames and the truth."""
    import cv2

    w, h, fps = world.width, world.height, world.fps
    n = int(round(world.seconds * fps))
    rng = np.random.default_rng(world.seed)
    cam = camera_path(world, n)
    margin = int(np.abs(cam[:, :2]).max()) + int(0.1 * w) + 4
    backs = []
    for _ in range(2):
        b = _texture(h + 2 * margin, w + 2 * margin, world.texture, rng)
        fy = margin + int(world.floor * h)
        b[fy:] = (b[fy:] * 0.55).astype(np.uint8)
        wx = int(WALL * w)
        b[:, :margin + wx] = (b[:, :margin + wx] * 0.5).astype(np.uint8)
        b[:, margin + w - wx:] = (b[:, margin + w - wx:] * 0.5).astype(np.uint8)
        backs.append(b)
    aspect = w / h
    paths = [simulate(b, aspect, world.floor, world.seconds) for b in world.balls]
    sprites = [_sprite(max(3, int(b.radius * h)), b.texture, b.color, b.seed) for b in world.balls]
    cut_i = n if world.cut_s is None else int(np.ceil(world.cut_s * fps - 1e-9))
    subs = max(1, int(np.ceil(world.shutter * SUBFRAMES))) if world.shutter > 0 else 1

    def exposure(i: int, t: float) -> np.ndarray:
        """What the camera sees at ``t`` (media seconds) while recording frame ``i``."""
        canvas = backs[1 if i >= cut_i else 0].copy()
        for (at, _), (rgb, mask) in zip(paths, sprites):
            x, y = at(t)
            _paste(canvas, rgb, mask, margin + int(round(x * h)), margin + int(round(y * h)))
        f = t * fps   # the camera's path, between its frames
        k = int(np.clip(np.floor(f), 0, n - 1))
        c = cam[k] + (cam[min(k + 1, n - 1)] - cam[k]) * float(np.clip(f - k, 0.0, 1.0)) if f >= 0 else cam[0]
        for bar in world.bars:
            bx = (-bar.width if bar.speed > 0 else 1.0) + (t - bar.t0) * bar.speed   # left edge, widths
            x0 = margin + int(round(bx * w)) + int(c[0])
            canvas[:, max(0, x0):max(0, x0 + int(bar.width * w))] = bar.color
        for sw in world.swings:
            a = sw.angle(t)
            px, py = margin + sw.pivot[0] * w + c[0], margin + sw.pivot[1] * w + c[1]
            tip = (int(round(px + sw.length * w * np.cos(a))), int(round(py - sw.length * w * np.sin(a))))
            cv2.line(canvas, (int(round(px)), int(round(py))), tip, sw.color,
                     max(1, int(round(sw.thickness * w))), cv2.LINE_AA)
        dx, dy, ang = c
        m = cv2.getRotationMatrix2D((margin + w / 2 + dx, margin + h / 2 + dy), float(np.degrees(ang)), 1.0)
        m[0, 2] -= margin + dx
        m[1, 2] -= margin + dy
        return cv2.warpAffine(canvas, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    out = []
    for i in range(n):
        t = i / fps
        if subs == 1:
            frame = exposure(i, t)
        else:   # the shutter's interval sampled evenly; a cut falls between frames, never inside one
            offsets = (np.arange(subs) + 0.5) / subs - 0.5
            frame = np.mean([exposure(i, t + o * world.shutter / fps).astype(np.float32) for o in offsets],
                            axis=0).round().astype(np.uint8)
        if world.grain > 0:
            frame = np.clip(frame + rng.normal(0, world.grain, frame.shape[:2])[..., None], 0, 255).astype(np.uint8)
        out.append(frame)
    impacts = []
    for (_, hits), _ball in zip(paths, world.balls):
        for t, x, y in hits:
            i = min(n - 1, int(t * fps))
            impacts.append((t, float(x / aspect - cam[i, 0] / w), float(y - cam[i, 1] / h)))
    swipes = []
    for bar in world.bars:
        dur = (1.0 + bar.width) / abs(bar.speed)
        swipes.append((bar.t0, bar.t0 + dur))
    swipes += [span for sw in world.swings for span in sw.spans()]
    truth = Truth(fps=fps, impacts=sorted(impacts), swipes=swipes,
                  cuts=[world.cut_s] if world.cut_s is not None else [])
    return out, truth


def encode(path: str | os.PathLike, rgb: list[np.ndarray], fps: float, crf: int = 20) -> None:
    """H.264 (yuv420p) at ``fps`` (exact for NTSC rates), written atomically."""
    import av
    from av.video.stream import VideoStream

    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    with av.open(str(tmp), mode="w") as container:
        stream = cast(VideoStream, container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001)))
        h, w = rgb[0].shape[:2]
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": str(crf)}
        for frame in rgb:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    os.replace(tmp, path)


def render(path: str | os.PathLike, world: World) -> Truth:
    rgb, truth = frames(world)
    encode(path, rgb, world.fps)
    return truth


# --------------------------------------------------------------------------- scenes where nothing sounds

QUIET_KINDS = ("water", "foliage", "pan", "shake", "crowd", "wiper")


def quiet_frames(kind: str, fps: float = 30.0, seconds: float = 4.0, width: int = 480, height: int = 270,
                 seed: int = 0) -> list[np.ndarray]:
    """Frames of a scene where nothing makes a transient sound: ``water`` (a rippling, glinting surface
    flowing by), ``foliage`` (leaves swaying in gusts), ``pan`` (a slow pan over a still scene that eases in
    and out), ``shake`` (hand-held tremor over a still scene), ``crowd`` (many small people walking and
    turning smoothly), ``wiper`` (a dark blade stroking to and fro over a still scene, slowing to rest at each
    end as a crank drives it, seen through a 180-degree shutter)."""
    import cv2

    rng = np.random.default_rng(seed)
    n = int(round(seconds * fps))
    w, h = width, height
    if kind in ("pan", "shake"):
        world = World(width=w, height=h, fps=fps, seconds=seconds, texture="blobs", seed=seed,
                      balls=[Ball(0.0, 0.4 + 0.3 * i, 0.85 - 0.07, radius=0.07, seed=i) for i in range(3)],
                      shake=0.012 if kind == "shake" else 0.0, grain=2.0)
        if kind == "pan":   # eases in and out: the camera speeds up and slows to rest (no stop is a contact)
            world.pan, world.ease = (0.15, 0.0), True
        return frames(world)[0]
    if kind == "wiper":
        blade = Swing(t0=0.2, pivot=(float(rng.uniform(0.15, 0.3)), float(rng.uniform(0.85, 0.95))), length=1.0,
                      start_deg=float(rng.uniform(160, 170)), end_deg=float(rng.uniform(20, 30)),
                      duration=float(rng.uniform(0.4, 0.5)), pause=0.15, strokes=int(seconds / 0.5) + 1,
                      thickness=float(rng.uniform(0.02, 0.03)))
        return frames(World(width=w, height=h, fps=fps, seconds=seconds, texture="blobs", seed=seed, grain=2.0,
                            swings=[blade], shutter=0.5))[0]
    out = []
    if kind == "water":
        drift = 25.0   # pixels a second the surface flows by
        span = w + 24 + int(np.ceil(drift * seconds))
        base = rng.integers(40, 200, size=(h // 6 + 4, span // 6 + 4)).astype(np.float32)
        base = cv2.resize(base, (span, h + 24), interpolation=cv2.INTER_CUBIC)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        for i in range(n):
            t = i / fps
            mx = xx + 12 + 4 * np.sin(yy / 9 + 3.1 * t) + 3 * np.sin(xx / 17 - 2.3 * t) + drift * t
            my = yy + 12 + 3 * np.cos(xx / 11 + 2.7 * t) + 2 * np.sin(yy / 23 + 1.7 * t)
            g = cv2.remap(base, mx, my, cv2.INTER_LINEAR)
            glint = (np.sin(xx / 5 + yy / 7 + 9 * t) * np.sin(xx / 13 - 6 * t) > 0.93) * 60
            g = np.clip(0.6 * g + glint + rng.normal(0, 3, (h, w)), 0, 255)
            out.append(np.stack([g * 0.5, g * 0.8, g], axis=-1).astype(np.uint8))
        return out
    if kind == "foliage":
        m = 140
        px, py = rng.uniform(0, w, m), rng.uniform(0, h, m)
        size = rng.integers(4, 12, m)
        freq, phase = rng.uniform(0.6, 2.0, m), rng.uniform(0, 2 * np.pi, m)
        shade = rng.integers(60, 200, m)
        bg = _texture(h, w, "blobs", rng) // 3
        for i in range(n):
            t = i / fps
            gust = 1.0 + 0.6 * np.sin(2 * np.pi * 0.3 * t)
            frame = bg.copy()
            ox = gust * 5 * np.sin(2 * np.pi * freq * t + phase)
            oy = 2 * np.sin(2 * np.pi * 1.3 * freq * t + phase)
            for j in range(m):
                cv2.ellipse(frame, (int(px[j] + ox[j]), int(py[j] + oy[j])), (int(size[j]), int(size[j] // 2)),
                            float(30 * np.sin(phase[j] + freq[j] * t)), 0, 360,
                            (20, int(shade[j]), 30), -1)
            out.append(frame)
        return out
    if kind == "crowd":
        m = 40
        px, py = rng.uniform(0.1 * w, 0.9 * w, m), rng.uniform(0.35 * h, 0.95 * h, m)
        amp = rng.uniform(0.05, 0.25, m) * w          # each walks to and fro, turning smoothly at the ends
        omega = 2 * np.pi / rng.uniform(5.0, 12.0, m)
        phase = rng.uniform(0, 2 * np.pi, m)
        colors = rng.integers(40, 220, (m, 3))
        bg = _texture(h, w, "blobs", rng)
        for i in range(n):
            t = i / fps
            frame = bg.copy()
            for j in range(m):
                x = px[j] + amp[j] * np.sin(omega[j] * t + phase[j])
                y = py[j] + 0.1 * amp[j] * np.cos(0.7 * omega[j] * t + phase[j])
                bob = 1.5 * np.sin(2 * np.pi * 2.0 * t + j)
                s = int(4 + 6 * y / h)
                c = tuple(int(v) for v in colors[j])
                cv2.rectangle(frame, (int(x - s / 2), int(y - 3 * s + bob)), (int(x + s / 2), int(y + bob)), c, -1)
                cv2.circle(frame, (int(x), int(y - 3.5 * s + bob)), max(2, s // 2), (200, 170, 150), -1)
            out.append(frame)
        return out
    raise ValueError(f"quiet scene kind {kind!r} is not one of: {', '.join(QUIET_KINDS)}")


def quiet_scene(path: str | os.PathLike, kind: str, fps: float = 30.0, seconds: float = 4.0, seed: int = 0) -> None:
    encode(path, quiet_frames(kind, fps=fps, seconds=seconds, seed=seed), fps)


#: Scenes where the light changes (:func:`lit_frames`); all but ``exposure`` have one event to find.
LIGHT_KINDS = ("lamp_on", "lamp_off", "room", "lightning", "photo_flash", "fireball", "firework", "exposure")


def lit_frames(kind: str, fps: float = 25.0, seconds: float = 2.0, switch_s: float = 0.8, seed: int = 0,
               shake: float = 0.0, width: int = 480, height: int = 270) -> tuple[list[np.ndarray], int | None]:
    """Frames of a still textured room under grain where the light changes at frame ``switch_s * fps``, and
    that frame (None for ``exposure``, which makes no sound): ``lamp_on`` (a lamp's pool of light on the
    left, from then on), ``lamp_off`` (one on the right, until then), ``room`` (the whole room lit),
    ``lightning`` (the whole frame lit for three fading frames), ``photo_flash`` (for one frame),
    ``fireball`` (a white-hot ball of fire bursting out right of the centre, growing for a quarter second, fading to
    smoke over 0.8 s, its edge boiling on), ``firework`` (a shell bursting into sparks over a dark sky, that
    fly out, fall and fade over 1.2 s), ``exposure`` (the camera's exposure opening over 0.7 s). ``shake``:
    hand-held shake (frame widths)."""
    import cv2

    if kind not in LIGHT_KINDS:
        raise ValueError(f"light scene {kind!r} is not one of {LIGHT_KINDS}")
    rng = np.random.default_rng(seed)
    n, k0 = int(round(seconds * fps)), int(round(switch_s * fps))
    w, h = width, height
    margin = int(0.05 * w)
    tex = cv2.resize(rng.integers(50, 140, size=((h + 2 * margin) // 6, (w + 2 * margin) // 6, 3)).astype(np.uint8),
                     (w + 2 * margin, h + 2 * margin), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    yy, xx = np.mgrid[:h + 2 * margin, :w + 2 * margin]
    cx, cy = (margin + 0.25 * w, margin + 0.55 * h) if kind == "lamp_on" else (margin + 0.75 * w, margin + 0.37 * h)
    pool = np.exp(-(((xx - cx) / (0.23 * w)) ** 2 + ((yy - cy) / (0.33 * h)) ** 2))[..., None]
    cam = camera_path(World(fps=fps, seconds=seconds, width=w, height=h, shake=shake, seed=seed), n)
    sparks = list(zip(rng.uniform(0, 2 * np.pi, 60), rng.uniform(0.3, 0.55, 60) * w))
    out = []
    for i in range(n):
        if kind == "lamp_on":
            lit = tex * (1.0 + 1.1 * pool * (i >= k0))
        elif kind == "lamp_off":
            lit = tex * (1.0 + 1.1 * pool * (i < k0))
        elif kind == "room":
            lit = tex * (0.95 if i >= k0 else 0.5)
        elif kind == "lightning":
            lit = tex * 0.3 + {k0: 170.0, k0 + 1: 90.0, k0 + 2: 25.0}.get(i, 0.0)
        elif kind == "photo_flash":
            lit = tex * 0.5 + (150.0 if i == k0 else 0.0)
        elif kind == "fireball":
            lit = tex.copy()
            if i >= k0:
                a = (i - k0) / fps
                r = 0.04 * w + 0.54 * w * min(a, 0.25)
                glow = max(0.0, 1.0 - a / 0.8)
                edge = cv2.resize(rng.random((h // 8 + 1, w // 8 + 1)).astype(np.float32),
                                  (w + 2 * margin, h + 2 * margin))
                off = np.hypot(xx - margin - 0.58 * w, yy - margin - 0.52 * h)
                inside = np.clip((r * (0.85 + 0.3 * edge) - off) / 10, 0, 1)[..., None]
                fire = np.array([200.0, 250.0, 255.0]) * glow + np.array([70.0, 70.0, 75.0]) * (1.0 - glow)
                lit = lit * (1 - inside) + inside * fire
        elif kind == "firework":
            lit = tex * 0.15
            if i >= k0:
                a = (i - k0) / fps
                glow = max(0.0, 1.0 - a / 1.2)
                for th, v in sparks:
                    x = margin + 0.5 * w + np.cos(th) * v * a * (1 - 0.3 * a)
                    y = margin + 0.4 * h + np.sin(th) * v * a * (1 - 0.3 * a) + 0.15 * h * a * a
                    cv2.circle(lit, (int(x), int(y)), 10 if a == 0 else 3, (255 * glow, 220 * glow, 160 * glow), -1)
        else:
            lit = tex * (0.6 + 0.36 * float(np.clip((i - k0) / (0.7 * fps), 0.0, 1.0)))
        dx, dy, ang = cam[i]
        m = cv2.getRotationMatrix2D((w / 2 + margin, h / 2 + margin), float(np.degrees(ang)), 1.0)
        m[:, 2] += (-dx - margin, -dy - margin)
        f = cv2.warpAffine(lit, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        out.append(np.clip(f + rng.normal(0, 2.5, (h, w, 1)), 0, 255).astype(np.uint8))
    return out, (None if kind == "exposure" else k0)


# --------------------------------------------------------------------------- a varied set

def varied_worlds(count: int = 12, seed: int = 0, seconds: float = 3.0,
                  size: tuple[int, int] = (480, 270)) -> list[World]:
    """``count`` worlds drawn with varied physics, picture and camera: restitution 0.3-0.75, radius 0.04-0.12,
    1-3 balls (some thrown sideways into a wall), textures, 24/25/29.97/60 fps, a bar swiping in some, a pan
    in some, hand-held shake in some, grain in some, a cut in some. ``size``: the frame (width, height); the
    balls' lanes share its width (the same draws at every size)."""
    rng = np.random.default_rng(seed)
    rates = (24.0, 25.0, 30000 / 1001, 60.0)
    textures = ("checker", "stripes", "noise", "flat")
    out = []
    for i in range(count):
        balls = []
        count = int(rng.integers(1, 4))
        aspect = size[0] / size[1]
        lane = (1.0 - 2 * WALL) * aspect / count   # each ball falls in its own lane (they do not collide)
        for j in range(count):
            radius = float(rng.uniform(0.04, 0.12))
            thrown = count == 1 and rng.random() < 0.5
            balls.append(Ball(t0=float(rng.uniform(0.1, 0.9)),
                              x=float(WALL * aspect + lane * (j + 0.5) + rng.uniform(-0.2, 0.2) * lane),
                              y=float(rng.uniform(0.1, 0.35)), vx=float(rng.uniform(-0.8, 0.8)) if thrown else 0.0,
                              vy=float(rng.uniform(-0.5, 0.3)), radius=min(radius, 0.4 * lane),
                              restitution=float(rng.uniform(0.3, 0.75)), texture=str(rng.choice(textures)),
                              color=tuple(int(c) for c in rng.integers(60, 250, 3)), seed=int(rng.integers(1e6))))
        world = World(width=size[0], height=size[1], fps=float(rates[i % len(rates)]), seconds=seconds, balls=balls,
                      seed=int(rng.integers(1e6)),
                      texture=str(rng.choice(("blobs", "blobs", "stripes", "noise"))))
        if i % 3 == 1:
            speed = float(rng.choice([-1, 1]) * rng.uniform(2.0, 4.0))
            world.bars = [Bar(t0=float(rng.uniform(0.5, seconds - 1.0)), speed=speed)]
        if i % 4 == 2:
            world.pan = (float(rng.uniform(-0.12, 0.12)), 0.0)
        if i % 4 == 3:
            world.shake = 0.008
        if i % 2 == 0:
            world.grain = float(rng.uniform(2.0, 6.0))
        if i % 5 == 4:
            world.cut_s = float(rng.uniform(1.2, seconds - 0.6))
        out.append(world)
    return out
