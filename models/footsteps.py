"""Footsteps: contacts where a person's foot is seen to plant (pure numpy over :class:`models.pose.FeetTrack`).

A contact found in the motion (an impact, or a stop seen only in the frame difference, which catches small
feet the flow loses) becomes a footstep only when pose shows a foot right there that was moving just
before and rests just after. Nothing is decided from the height in the frame: a strike on a low railing
has no foot at it, and a person standing still has feet that do not move. Landmarks jitter (a planted heel
by 3-7 px at 256 px), so positions are compared as medians over short windows, and the foot must have
moved by more than that jitter.
"""
from __future__ import annotations

import numpy as np

from models.pose import FeetTrack

#: Presence: pose looks at the frames kept every PRESENCE_S seconds near contacts; contacts within
#: PRESENCE_S of a frame where it saw a foot are checked closely (clips without people pay only the look).
PRESENCE_S = 1.0
PRESENCE_NEAR = 0.3
#: Dense pose pass around a candidate: PLANT_BEFORE frames from PLANT_BEFORE_S to half that before it, and
#: PLANT_AFTER frames from it to PLANT_AFTER_S after it (pose costs 20-60 ms a frame).
PLANT_BEFORE_S = 0.3
PLANT_AFTER_S = 0.15
PLANT_BEFORE = 2
PLANT_AFTER = 3
#: A contact is at a foot when the foot's (x, y) is within this distance (frame units) of it.
FOOT_NEAR = 0.12
#: The foot moved by this much (frame units, median positions) between the early part of the window before
#: the contact and the window after it ...
FOOT_MOVE = 0.08
#: ... and rests after it: positions within this much of their median. A planted heel jitters by 3-7 px
#: at 256 x 144 px: up to 0.03 of the width and 0.05 of the height.
FOOT_STILL = 0.05
#: At least this many pose samples with the foot seen in each part of the window.
MIN_SAMPLES = 2


def near_seen_foot(seen: list[tuple[float, np.ndarray]], t: float, x: float, y: float) -> bool:
    """Whether a look at most PRESENCE_S from ``t`` saw a foot within PRESENCE_NEAR of (x, y) (a walker's
    foot moves on by less than that in PRESENCE_S)."""
    for ts, feet in seen:
        if abs(ts - t) > PRESENCE_S:
            continue
        ok = ~np.isnan(feet[:, 0])
        if ok.any() and float(np.hypot(feet[ok, 0] - x, feet[ok, 1] - y).min()) <= PRESENCE_NEAR:
            return True
    return False


def foot_near(feet: np.ndarray, x: float, y: float) -> bool:
    """Whether one of ``feet`` (2, 2; NaN unseen) is within FOOT_NEAR of (x, y)."""
    ok = ~np.isnan(feet[:, 0])
    return bool(ok.any()) and float(np.hypot(feet[ok, 0] - x, feet[ok, 1] - y).min()) <= FOOT_NEAR


def plant_times(t: float, fps: float) -> list[float]:
    """The dense pass's frame times around a contact at ``t``: PLANT_BEFORE samples before it (moving) and
    PLANT_AFTER from it on (resting), on the video's frame grid."""
    dt = 1.0 / fps
    before = np.linspace(t - PLANT_BEFORE_S, t - 0.5 * PLANT_BEFORE_S, PLANT_BEFORE)
    after = t + np.linspace(0.0, PLANT_AFTER_S, PLANT_AFTER)
    return sorted({round(float(x) / dt) * dt for x in np.r_[before, after]})


def planted(track: FeetTrack, t: float, x: float, y: float) -> bool:
    """Whether a foot near (x, y) moved before ``t`` and rests after it, in the dense ``track``."""
    ts, feet = track.times, track.feet
    if not len(ts):
        return False
    eps = 1e-6
    before = (ts >= t - PLANT_BEFORE_S - 0.05) & (ts <= t - 0.5 * PLANT_BEFORE_S + 0.05)
    after = (ts >= t - 0.05) & (ts <= t + PLANT_AFTER_S + 0.05 + eps)
    for f in range(feet.shape[1]):
        seen = ~np.isnan(feet[:, f, 0])
        a, b = feet[before & seen, f], feet[after & seen, f]
        if len(a) < MIN_SAMPLES or len(b) < MIN_SAMPLES:
            continue
        rest = np.median(b, axis=0)
        if float(np.hypot(rest[0] - x, rest[1] - y)) > FOOT_NEAR:
            continue
        moved = float(np.linalg.norm(np.median(a, axis=0) - rest))
        still = float(np.hypot(b[:, 0] - rest[0], b[:, 1] - rest[1]).max())
        if moved >= FOOT_MOVE and still <= FOOT_STILL:
            return True
    return False
