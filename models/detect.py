"""Sound events from motion features: shot cuts, impacts, footsteps, whooshes and one ambience per shot.

The detection functions are pure numpy over the compact arrays of :mod:`models.motion`; only
:class:`EventDetector` touches the video. Velocities are in frame widths per frame interval; the
interval ``k`` runs from frame ``k-1`` to frame ``k``.

Impacts are sudden losses of speed of a moving region (a stop or a reversal), found on the flow grid pooled
over 3x3 neighbourhoods, so that an object crossing from one cell into the next is not a stop, and taken
per region (:func:`region_peaks`): each candidate is timed, placed and checked on its own cells. Frames a
frame-rate conversion repeats are found first and dropped (a repeated frame, or its motion shared over two
intervals, looks like a stop). A candidate must be abrupt, lasting and sustained (see :func:`decel_scores`); stops of
upward motion (the tops of lifts and backswings) count less; a stop through which the frame difference's
centroid keeps moving is the flow losing a fast or textured object and is dropped. Per clip, candidates
must reach a fraction of the clip's strong-candidate level, and weak ones shortly after a much stronger one
are its recoil. The onset is refined below one frame twice, averaged: with a constant-velocity contact
model on the flow (the object covers the fraction ``a`` of the contact interval at its approach speed
``v_in`` and then leaves at ``v_out``, so the interval's mean displacement along the approach is
``a*v_in - (1-a)*v_out``), and with the same model on the frame difference's centroid
(:func:`centroid_onset`), which does not depend on the flow tracking the object. Where the region keeps
sinking slowly along the approach after the stop (a knife stopping in food, then reaching the board), the
onset moves to the end of that residual motion (:func:`residual_end`).

Footsteps are contacts where pose sees a person's foot plant (:meth:`EventDetector.footsteps`,
:mod:`models.footsteps`, :mod:`models.pose`); feet are small and the flow often loses them, so stops seen
only in the frame difference (:func:`difference_stops`) are candidates too. Pose's presence looks (a frame a
second) are posed on a thread of their own while the video decodes, only where something moved
(:class:`Looks`), and read only near such contacts: a still range never loads mediapipe. Without mediapipe
there are no footsteps.
docs/detection.md has the reasoning and the measured numbers.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Callable, cast

import numpy as np

from bridge.errors import Cancelled, InputError
from bridge.event import Event
from models.motion import (
    ASPECT,
    BLOB_EDGE,
    BLOB_ENERGY,
    BLOB_X,
    BLOB_Y,
    CELL_AREA,
    CELL_MAG,
    CELL_MX,
    CELL_MY,
    CELL_VX,
    CELL_VY,
    CUT_DIFF,
    CUT_HIST,
    EN_MEAN,
    EN_RISE,
    EN_X,
    EN_Y,
    N_ENERGY_CHANNELS,
    MotionAnalyzer,
    MotionFeatures,
)
from models.onset_eval import match_indices
from models.pose import PoseModel, load_pose

log = logging.getLogger("foley.detect")

#: Analysis width per precision (pixels).
WIDTHS = {"normal": 256, "high": 384}
#: A cut: histogram distance or mean difference above its floor (CUT_HIST, CUT_DIFF) and this many times its
#: neighbours'.
CUT_RATIO = 3.0
#: No impact within this many frames of a cut.
CUT_GUARD = 2
#: A spike of the cut cues where the picture stays the same picture (:func:`models.motion.structure_kept` this
#: much or more) is the light changing (a lamp or a room's light switched on or off), not a cut.
RELIGHT_SAME = 0.7
#: A cut the picture alone shows (:func:`picture_cuts`): a frame that keeps less than CUT_SAME of the previous
#: frame's picture, where the two frames on either side keep at least CUT_SAME_DROP more of theirs.
CUT_SAME, CUT_SAME_DROP = 0.5, 0.4
#: The cues of light rather than of things meeting: their events are no contacts (never footsteps).
LIGHT_CUES = ("flash", "burst", "light")
#: Whoosh: speed (frame widths per second) above this for at least WHOOSH_MIN_S.
WHOOSH_SPEED, WHOOSH_MIN_S = 0.8, 0.1
#: ... and either somewhere in it at least WHOOSH_PACE of its own sizes per second (the square root of the
#: moving area of the fastest neighbourhood: a swing, a swipe, a throw), or WHOOSH_PASS frame widths
#: travelled in all (a pass-by). Not a hand at work filling a close-up, which strokes a tenth of the frame
#: at a time at a few of its sizes a second (see :func:`dominant_motion`).
WHOOSH_PACE, WHOOSH_PASS = 7.0, 0.5
#: Impacts: minimum approach speed (frame widths per second) and minimum decel score.
IMPACT_MIN_SPEED = 0.12
PROFILE_POINTS = 32
#: Fraction of its speed a region must lose from one interval to the next to count as an impact.
ABRUPT = 0.5
#: ... and it must not be back at this fraction of its approach speed, along the approach, one or two
#: intervals later (two only where it had not turned back in between at TURNED of that speed).
RESUME = 0.6
TURNED = 0.3
#: ... and one interval before the approach it must not have moved the other way at this fraction of the
#: approach speed: a one-interval flick between two opposite ones is the flow jittering on texture.
FLICK = 0.5
#: A region that keeps moving after the "stop" at this fraction of its speed before the approach interval
#: did not stop: only a one-interval burst of speed (a flick, a shaky frame) ended.
BURST = 0.5
#: A fast object passed on rather than stopped where the cell ahead of it changes by this fraction of what
#: its own cell changed (see :func:`passes_through`).
PASS_REL = 0.5
#: ... checked only for objects moving at least this many grid cells per interval (slower ones the flow
#: keeps, and the object itself covers the next cell when it is near a border).
PASS_CELLS = 0.5
#: The frame difference of a swept object moves on by this many grid cells per interval at least
#: (:func:`difference_moves_on`; about 1 frame width per second at 30 fps).
MOVE_CELLS = 0.3
#: ... and keeps SWEEP_KEEP of the mass it had when first seen moving: it thins as the object slows toward
#: the end of a stroke (a wiper blade easing to rest was lost at half), while a stop leaves it fading where
#: it stopped.
SWEEP_KEEP = 0.4
#: At the frame's border, a swept object's difference that keeps BORDER_KEEP of its mass is leaving; one
#: that falls below BORDER_GONE of it after moving on through the stop's interval has left.
BORDER_KEEP = 0.5
BORDER_GONE = 0.1
#: Flashes (:func:`find_flashes`): a block of a cell brightens by this much (0..1: half the gray range, a
#: strong light) in one interval, ...
FLASH_RISE = 0.5
#: ... after a rise below FLASH_SUDDEN of it in the interval before, with every cell of its 5 x 5
#: neighbourhood changing by less than FLASH_QUIET of its own change in the two intervals before (sudden,
#: out of a still picture) ...
FLASH_SUDDEN = 0.3
FLASH_QUIET = 0.6
#: ... and fades: the cell's difference falls below half within this many intervals.
FLASH_FALL = 4
#: Another flash in the same cell this many intervals later at the earliest.
FLASH_GAP = 3
#: An impact this soon (seconds) after a flash near it (within CONTACT_NEAR of the frame) is the same event
#: (a gun's recoil stop after its muzzle flash).
FLASH_MERGE_S = 0.15
#: Contacts of two cues this near (of the frame; and in time, see :func:`same_contact`) are one contact.
CONTACT_NEAR = 0.25
#: Bursts (:func:`find_bursts`: a fireball, a firework's shell, a puff of lit smoke): a block of a cell brightens
#: by BURST_RISE or more in one interval, suddenly, out of a still neighbourhood (as a flash), and the lit area
#: then grows, to at least BURST_GROWTH times its first cells, within BURST_GROW_S seconds ...
BURST_RISE, BURST_GROWTH, BURST_GROW_S = 0.5, 2.0, 0.12
#: ... and lives, for the other cues, until its area's difference stays below BURST_QUIET (a gray level) for
#: two intervals, BURST_MAX_S at most: the light, the fire and the smoke moving are no contacts meanwhile.
BURST_QUIET, BURST_MAX_S = 1.0 / 255.0, 3.0
#: A flow stop is where the flow lost a fast object (:func:`lost_on_the_way`) when another cue's contact
#: follows within LOST_INTERVALS frame intervals at LOST_FASTER times its approach speed.
LOST_INTERVALS = 3.0
LOST_FASTER = 3.0
#: Video faster than HIGH_FPS frames a second (high-speed footage: 100-240 fps) is analysed at every n-th
#: frame, ANALYSIS_FPS or a little more (:func:`analysis_stride`): at 120 fps a late bounce moves under a pixel
#: a frame at the analysis' 256 px, within the flow's jitter, and most contacts were missed (within 33 ms:
#: 33 of 80 on twelve simulated worlds; 71 of 80 analysed at 24 fps; 74 of 80 for the same worlds at 30 fps).
#: 50-60 fps is analysed whole: the simulated 60 fps scenes of seed 0 (a shaking camera) found 18 of 26
#: contacts within a frame so, 15 of 26 among 10 more events at every second frame.
ANALYSIS_FPS = 24.0
HIGH_FPS = 61.0
#: ... and from HALVES_FPS up to HIGH_FPS also from its even and from its odd frames, two halves at half the
#: rate, where a slow late bounce moves twice as far an interval (:func:`vote_halves`): an event is kept where
#: two of the three analyses agree. A half's event agrees with the other half's within HALF_PAIR of the
#: video's frames (less than one: two halves a whole frame apart have each named only a frame of its own, as
#: a shaking camera's jolt does), and with an event of every frame within HALF_NEAR.
HALVES_FPS = 2 * ANALYSIS_FPS
HALF_PAIR = 0.75
HALF_NEAR = 3.0
#: How many intervals past the flow's stop the frame-difference centroid may show the object still moving.
TRACK_REACH = 3
#: Residual motion after a stop: up to this many intervals after the stop interval in which the region keeps
#: moving along the approach (not reversed) with a frame difference above RESIDUAL_REL times its quietest
#: level afterwards; the contact is at the end of them (a knife stopping in food reaches the board later).
RESIDUAL_REACH = 3
RESIDUAL_REL = 2.0
#: Weight of the frame-difference centroid's onset against the flow's where both are available.
CENTROID_WEIGHT = 0.5
#: The centroid must move along the approach at this fraction of the flow's approach speed at least (else
#: the difference around the object is dominated by something else).
CENTROID_AGREE = 0.5
#: Per clip, an impact peak must reach this fraction of the clip's strong-peak level (90th percentile of
#: the candidate peaks): weak losses of speed next to the clip's real strikes are flow noise.
CLIP_REL = 0.13
#: A candidate this soon (seconds) after one RECOIL_RATIO times as strong is the recoil of that strike.
RECOIL_S = 0.4
RECOIL_RATIO = 2.5
#: ... unless it approaches the way the strong one did (cosine of the directions above this): a new contact
#: with the same surface (a ball's next bounce).
RECOIL_SAME = 0.5
#: Two candidates this many frame intervals apart approaching the same way are one contact (the later).
MERGE_FRAMES = 2.5
#: Motion centroids this close to the frame border, moving outwards, are leaving the frame.
EDGE = 0.06
#: An impact's score must be this many times the local median score.
PEAK_REL = 4.0
#: Slowest approach in widths per interval whatever the frame rate: about a pixel at 256 px, the flow's own
#: jitter on texture under a shaking camera. IMPACT_MIN_SPEED per second is less than that per interval at
#: 60 fps, where shake alone then made stops.
FLOW_FLOOR = 1.0 / 256
#: Region candidates: a peak cell is the largest within REGION_REACH cells (of the 4 x 8 grid) and reaches
#: REGION_REL of the frame's largest cell score.
REGION_REACH = 2
REGION_REL = 0.25
#: Gray frames kept for pose's presence looks (256 x 144 at normal: 37 kB each; 22 MB at most; :class:`Looks`).
MAX_LOOKS = 600
#: Per-region candidates (False: one candidate per frame from the summed score, the earlier rule).
PER_REGION = True
#: A frame whose difference to the previous one is below this fraction of its neighbours' is a repeat (a
#: frame-rate conversion shows some frames twice): its motion is spread over both intervals.
REPEAT_REL = 0.05
#: ... and another such frame within this many frames (a conversion repeats at a steady short period).
REPEAT_PERIOD = 12
#: Weight of a stop of upward motion: gravity slows every lift and backswing to a halt at its top, while
#: contacts mostly come from above or the side. Scaled smoothly from 1 (approach level or downwards).
UPWARD_WEIGHT = 0.2
#: Stops seen in the frame difference alone (the flow loses small or low-contrast objects): the region's
#: difference must last at least STILL_RUN intervals, then fall below STILL_REL of its level in its own cells.
STILL_RUN = 3
STILL_REL = 0.15
#: ... above this pooled difference level (0..1 gray per cell; coding noise is already removed).
STILL_MIN = 2e-3
#: Bounces of difference blobs (:func:`blob_bounces`): a blob is followed to the nearest blob of the next frame
#: within BOUNCE_LINK (widths); a bounce needs a track of BOUNCE_TRACK frames, a step of BOUNCE_MIN_STEP
#: (widths per interval, the blob image's resolution) into it, an approach that kept its direction
#: (cosine BOUNCE_STEADY over the interval before, BOUNCE_SMOOTH over the one before that, whose step is at
#: least BOUNCE_FIRST of the last) and its speed (BOUNCE_KEEP), not upward, and no other blob within
#: BOUNCE_CLEAR around it (crossing movers swap blobs). Where the blob still moved on by more than half a
#: step (the contact late in the interval), it must not go on by more than BOUNCE_TURN of a step after
#: it. A track may skip BOUNCE_GAP frames (a contact in the middle of an interval can leave no blob).
BOUNCE_LINK = 0.12
BOUNCE_TRACK = 6
BOUNCE_MIN_STEP = 0.006
BOUNCE_STEADY = 0.5
BOUNCE_SMOOTH = 0.8
BOUNCE_KEEP = 0.8
BOUNCE_CLEAR = 0.15
BOUNCE_TURN = 0.2
BOUNCE_FIRST = 0.3
BOUNCE_GAP = 1
#: Contacts of silhouettes (:func:`silhouette_contacts`): along a silhouette's track (linked as blobs are,
#: within BOUNCE_LINK), wherever it comes down and then goes on by less than SIL_GOES_ON of its step, the
#: path over SIL_BEFORE_S seconds before a moment and SIL_AFTER_S after it (at least
#: SIL_BEFORE and SIL_AFTER frames; at least SIL_MIN_BEFORE and SIL_MIN_AFTER silhouettes on each side) is
#: fitted with a smooth path (a parabola: free flight) and with the same path plus a change of velocity at
#: the moment (a hinge: a contact). A contact explains the path SIL_GAIN times better (squared error), the
#: hinged fit's error is under SIL_NOISE of a step, the approach moved SIL_MIN_STEP widths a frame or more
#: and lost ABRUPT of its speed at the hinge, came down (cosine SIL_DOWN with the downward direction: a thrown
#: or dropped thing meeting what is below it; sideways and upward stops are the flow's), the silhouette's
#: area stayed within SIL_AREA times itself (one solid object, not a flicker of the background), nothing
#: else within SIL_CLEAR of it and not at the frame's edge. The hinge's moment is searched at SIL_STEPS
#: points across two intervals.
SIL_GOES_ON = 0.8
SIL_BEFORE, SIL_AFTER = 4, 3
SIL_BEFORE_S, SIL_AFTER_S = 0.15, 0.11
SIL_MIN_BEFORE, SIL_MIN_AFTER = 3, 2
SIL_GAIN = 4.0
SIL_NOISE = 0.3
SIL_MIN_STEP = 0.004
SIL_DOWN = 0.8
SIL_AREA = 3.0
SIL_CLEAR = 0.2
SIL_STEPS = 16


@dataclass
class Detection:
    events: list[Event]
    cuts: list[float]
    shots: list[tuple[float, float]]
    #: Stops seen in the frame difference alone (small objects the flow loses), not events by themselves:
    #: candidate contacts for footsteps.
    stops: list[Event] = field(default_factory=list)


@dataclass
class Signals:
    """Per-interval arrays derived from the grid features of one shot."""

    times: np.ndarray       # (n,) frame times
    vel: np.ndarray         # (n, R, C, 2) pooled mean velocity of moving pixels
    area: np.ndarray        # (n, R, C) pooled moving area
    mag: np.ndarray         # (n, R, C) raw per-cell mean speed mass (moving pixels)
    cx: np.ndarray          # (n, R, C) centroid x of motion in the cell
    cy: np.ndarray          # (n, R, C)
    energy: np.ndarray = field(default_factory=lambda: np.zeros(0))   # (n, R, C) pooled frame difference
    moments: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (n, R, C, 2) pooled difference * x, * y
    cell_energy: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (n, R, C) frame difference, unpooled
    decel: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (n,) impact score at frame k-1
    decel_cells: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (n, R, C)


# --------------------------------------------------------------------------- pure functions

def pool3x3(a: np.ndarray) -> np.ndarray:
    """Sum over each cell's 3x3 neighbourhood of the grid axes (1, 2) of an (n, R, C, ...) array."""
    pad = [(0, 0), (1, 1), (1, 1)] + [(0, 0)] * (a.ndim - 3)
    p = np.pad(a, pad)
    r, c = a.shape[1], a.shape[2]
    return cast(np.ndarray, sum(p[:, i:i + r, j:j + c] for i in range(3) for j in range(3)))


def cut_spikes(hist: np.ndarray, diff: np.ndarray, hist_min: float = CUT_HIST, diff_min: float = CUT_DIFF,
               ratio: float = CUT_RATIO) -> list[int]:
    """Frame indices k where the picture changes at once from frame k-1 to k: an isolated spike of the
    histogram distance (above ``hist_min``) or of the mean frame difference (above ``diff_min``), ``ratio``
    times the largest value within two frames on either side, so a flash, a shake or a fast pan that
    changes the picture over several frames is none."""
    n = len(hist)
    spikes = []
    for k in range(1, n):
        for sig, floor in ((hist, hist_min), (diff, diff_min)):
            if sig[k] < floor:
                continue
            around = np.r_[sig[max(1, k - 2):k], sig[k + 1:k + 3]]
            if around.size == 0 or sig[k] >= ratio * max(float(around.max()), 1e-3):
                spikes.append(k)
                break
    return spikes


def picture_cuts(same: np.ndarray | None) -> list[int]:
    """Frame indices k where the picture alone changes at once (``same``: the per-frame
    :func:`models.motion.structure_kept`): it keeps less than CUT_SAME of the previous frame's picture,
    while the two frames either side keep CUT_SAME_DROP more of theirs. A cut between two pictures of one
    look (alike in histogram and in mean difference, which :func:`cut_spikes` needs) changes every block's
    picture; a swipe or a fast pan changes the picture over several frames, a light changing leaves it."""
    if same is None:
        return []
    out = []
    for k in range(1, len(same)):
        around = np.r_[same[max(1, k - 2):k], same[k + 1:k + 3]]
        if same[k] < CUT_SAME and around.size and not np.isnan(around).any() \
                and float(around.min()) - float(same[k]) >= CUT_SAME_DROP:
            out.append(k)
    return out


def relit(k: int, same: np.ndarray | None) -> bool:
    """Whether the spike at ``k`` is the same picture in another light (``same``: the per-frame
    :func:`models.motion.structure_kept`, or None where it was not measured)."""
    return same is not None and bool(same[k] >= RELIGHT_SAME)   # NaN (nothing to compare): a cut


def sudden_changes(hist: np.ndarray, diff: np.ndarray, same: np.ndarray | None = None) -> list[int]:
    """Frame indices k where the picture changes at once from frame k-1 (:func:`cut_spikes`,
    :func:`picture_cuts`): a cut, or the light changing (:func:`relit`)."""
    return sorted(set(cut_spikes(hist, diff)) | set(picture_cuts(same)))


def cuts_and_lights(hist: np.ndarray, diff: np.ndarray, same: np.ndarray | None = None) -> tuple[list[int], list[int]]:
    """The :func:`sudden_changes` split in two: the frame indices k where a new shot starts (a cut between
    frames k-1 and k: the picture does not stay the same picture), and those where the light changes at
    once (:func:`relit`)."""
    changes = sudden_changes(hist, diff, same)
    return [k for k in changes if not relit(k, same)], [k for k in changes if relit(k, same)]


def find_cuts(hist: np.ndarray, diff: np.ndarray, same: np.ndarray | None = None) -> list[int]:
    """Frame indices k where a new shot starts (:func:`cuts_and_lights`)."""
    return cuts_and_lights(hist, diff, same)[0]


def shot_spans(n: int, cuts: list[int]) -> list[tuple[int, int]]:
    """[start, end) frame index spans of the shots."""
    bounds = [0] + [c for c in cuts if 0 < c < n] + [n]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def repeated_frames(diff: np.ndarray, rel: float = REPEAT_REL) -> list[int]:
    """Indices k of frames that repeat frame k-1 (no difference while the frames around do change)."""
    n = len(diff)
    return [k for k in range(2, n - 1)
            if diff[k] <= rel * min(float(diff[k - 1]), float(diff[k + 1])) and min(diff[k - 1], diff[k + 1]) > 0]


def periodic(repeats: list[int], period: int = REPEAT_PERIOD) -> list[int]:
    """The repeats with another within ``period`` frames. A frame-rate conversion repeats frames at a steady
    short period (every 6th for 25 -> 30 fps, every 5th for 24 -> 30, every 2nd for 15 -> 30); a lone still
    frame is a real moment of rest (two feet both planted for one frame), not a repeat."""
    return [k for k in repeats if any(0 < abs(k - j) <= period for j in repeats)]


def drop_repeats(arrays: dict) -> dict:
    """The feature arrays without the frames a frame-rate conversion repeats (:func:`repeated_frames` that
    are :func:`periodic`).

    A 25 -> 30 fps conversion shows every 5th source frame twice. The interval into the repeat has no
    motion and the one after it carries a whole source interval, so per displayed interval a constant
    motion reads d, d, d, d, 0, d; any motion shared over the two reads d/2, d/2: a loss of half the speed
    in one interval, which is what a stop is. Dropping the repeat leaves one interval per source interval,
    each with its whole change, stamped at the time the picture is shown (the interval after a repeat is
    then two display intervals long, which the onset estimate reads from the times)."""
    times = arrays["times"]
    if len(times) == 0:
        return arrays
    repeats = set(periodic(repeated_frames(arrays["diff"])))
    if not repeats:
        return arrays
    keep = np.array([i for i in range(len(times)) if i not in repeats])
    return {key: (val[keep] if isinstance(val, np.ndarray) and len(val) == len(times) else val)
            for key, val in arrays.items()}


def make_signals(times: np.ndarray, cells: np.ndarray, energy: np.ndarray | None = None) -> Signals:
    """Pooled velocities and positions from the (n, R, C, 6) grid features of one shot, and the pooled
    frame-difference energy and moments from its (n, R, C, 3) energy features."""
    area = cells[..., CELL_AREA].astype(np.float64)
    mom = cells[..., [CELL_VX, CELL_VY]].astype(np.float64)
    mag = cells[..., CELL_MAG].astype(np.float64)
    parea = pool3x3(area)
    vel = pool3x3(mom) / np.maximum(pool3x3(mag), 1e-6)[..., None]
    cx = cells[..., CELL_MX] / np.maximum(mag, 1e-9)
    cy = cells[..., CELL_MY] / np.maximum(mag, 1e-9)
    if energy is None:
        energy = np.zeros((*cells.shape[:3], N_ENERGY_CHANNELS), np.float32)
    en = pool3x3(energy[..., EN_MEAN].astype(np.float64))
    moments = pool3x3(energy[..., [EN_X, EN_Y]].astype(np.float64))
    return Signals(times=times, vel=vel, area=parea, mag=mag, cx=cx, cy=cy, energy=en, moments=moments,
                   cell_energy=energy[..., EN_MEAN].astype(np.float64))


def neighbourhood_max_along(v: np.ndarray, unit: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Per cell, the largest component along ``unit`` (n, R, C, 2) of the velocities ``v`` (n, R, C, 2) in
    the cell's 3x3 neighbourhood (the object may have moved on a cell)."""
    pad = np.pad(v, [(0, 0), (1, 1), (1, 1), (0, 0)])
    rows, cols = grid
    best = np.full(unit.shape[:-1], -np.inf)
    for i in range(3):
        for j in range(3):
            best = np.maximum(best, (pad[:, i:i + rows, j:j + cols] * unit).sum(-1))
    return best


def shifted(v: np.ndarray, by: int) -> np.ndarray:
    """``out[k] = v[k + by]`` along axis 0, zeros where that falls outside."""
    out = np.zeros_like(v)
    n = len(v)
    if by >= 0:
        out[:max(0, n - by)] = v[by:]
    else:
        out[-by:] = v[:n + by]
    return out


def decel_scores(sig: Signals, min_speed: float, grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Impact score per frame: an abrupt, lasting loss of speed after a sustained approach.

    ``score[k]`` is the change from interval k-1 to k (an event near frame k-1), summed over cells weighted
    by the moving area. Per 3x3 neighbourhood with approach velocity ``v[k-1]`` (direction ``u``):

    * abrupt: at least ABRUPT of the speed is lost from k-1 to k (a smooth slow-down, like the top of a
      backswing, loses it over several intervals);
    * lasting: within the next two intervals the motion is not back along ``u`` at RESUME of the approach
      speed (a tracking dropout on a fast object resumes; a real stop or rebound does not), unless it
      turned back in between (TURNED): then the second interval's is the next stroke of a hand drumming;
    * sustained: the interval before the approach did not move against ``u`` at FLICK of its speed (flow
      jitter on texture flips the direction back and forth);
    * not a lift: stops of upward motion are weighted down to UPWARD_WEIGHT (gravity ends every lift).

    Cells moving out of the frame are ignored (leaving the frame is no stop).
    """
    v = sig.vel
    n = len(v)
    cells = np.zeros((n, *grid))
    if n < 3:
        return np.zeros(n), cells
    prev = shifted(v, -1)
    speed = np.linalg.norm(prev, axis=-1)
    unit = prev / np.maximum(speed, 1e-9)[..., None]
    kept = neighbourhood_max_along(v, unit, grid)
    kept1 = neighbourhood_max_along(shifted(v, 1), unit, grid)
    kept2 = neighbourhood_max_along(shifted(v, 2), unit, grid)
    loss = np.maximum(0.0, speed - np.maximum(kept, -speed)) * (speed >= min_speed)
    area_prev = shifted(sig.area, -1)
    before = (shifted(v, -2) * unit).sum(-1)
    # back along the approach two intervals on, after it had turned back in between: a new stroke (a hand
    # drumming), not the flow finding a lost object again
    turned = (kept <= -TURNED * speed) | (kept1 <= -TURNED * speed)
    resumed = (kept1 >= RESUME * speed) | ((kept2 >= RESUME * speed) & ~turned)
    ok = ((loss >= ABRUPT * speed) & ~resumed
          & (before > -FLICK * speed)
          & ~((before > min_speed) & (kept >= BURST * before)))
    cx, cy = shifted(sig.cx, -1), shifted(sig.cy, -1)
    upward = np.clip(-unit[..., 1], 0.0, 1.0)
    loss = loss * (1.0 - (1.0 - UPWARD_WEIGHT) * upward)
    leaving = (((unit[..., 0] < -0.5) & (cx < EDGE)) | ((unit[..., 0] > 0.5) & (cx > 1 - EDGE))
               | ((unit[..., 1] < -0.5) & (cy < EDGE)) | ((unit[..., 1] > 0.5) & (cy > 1 - EDGE)))
    cells[:] = loss * ok * ~leaving * area_prev / 9.0
    cells[:2] = 0.0
    return cells.sum(axis=(1, 2)), cells


def pick_peaks(score: np.ndarray, floor: float, rel: float = 2.0, wait: int = 2, window: int = 12) -> list[int]:
    """Local maxima within +-wait above ``floor`` and ``rel`` times the local median (+-window)."""
    n = len(score)
    peaks: list[int] = []
    for k in range(n):
        lo, hi = max(0, k - wait), min(n, k + wait + 1)
        s = score[k]
        if s <= floor or s < score[lo:hi].max():
            continue
        med = float(np.median(score[max(0, k - window):k + window + 1]))
        if s < rel * med:
            continue
        if peaks and k - peaks[-1] <= wait:
            continue
        peaks.append(k)
    return peaks


def region_peaks(cells: np.ndarray, floor: float, wait: int = 2, reach: int | None = None,
                 rel: float | None = None) -> list[tuple[int, np.ndarray]]:
    """Candidate contacts per region rather than per frame: (k, weights) for each cell whose score is the
    largest within ``reach`` cells and ``wait`` intervals, with the cell scores of its 3 x 3 neighbourhood at
    k as weights. Two objects that hit at the same moment in different places are two candidates, and a
    small object's contact is not hidden under a large one's (one score per frame kept only the larger).
    A peak must reach ``rel`` (REGION_REL) of the frame's largest cell score: weaker ones beside a strong
    contact are its spill into the neighbourhood."""
    rel = REGION_REL if rel is None else rel
    reach = int(REGION_REACH if reach is None else reach)
    n, rows, cols = cells.shape
    out: list[tuple[int, np.ndarray]] = []
    if n == 0:
        return out
    pad = np.pad(cells, [(wait, wait), (reach, reach), (reach, reach)])
    local = np.zeros_like(cells)
    for dk in range(2 * wait + 1):
        for i in range(2 * reach + 1):
            for j in range(2 * reach + 1):
                np.maximum(local, pad[dk:dk + n, i:i + rows, j:j + cols], out=local)
    top = cells.reshape(n, -1).max(axis=1)
    for k, r, c in zip(*np.nonzero((cells > floor) & (cells >= local))):
        if cells[k, r, c] < rel * top[k]:
            continue
        if any(k2 == k and abs(r2 - r) <= reach and abs(c2 - c) <= reach for k2, (r2, c2) in
               ((kk, divmod(int(np.argmax(w)), cols)) for kk, w in out[-4:])):
            continue   # a tie beside a peak already taken
        w = np.zeros((rows, cols))
        r0, r1, c0, c1 = max(0, r - 1), min(rows, r + 2), max(0, c - 1), min(cols, c + 2)
        w[r0:r1, c0:c1] = cells[k, r0:r1, c0:c1]
        out.append((int(k), w))
    return out


def contact_fraction(v_in: float, d: float, v_out: float) -> float:
    """Fraction of an interval before contact, given approach speed, the interval's mean displacement along
    the approach direction and the speed away afterwards: d = a*v_in - (1-a)*v_out."""
    den = v_in + v_out
    if den <= 1e-12:
        return 0.5
    return float(np.clip((d + v_out) / den, 0.0, 1.0))


def refine_impact(sig: Signals, k: int, weights: np.ndarray) -> tuple[float, float, float, float]:
    """Sub-frame onset of the impact scored at frame k (speed lost between intervals k-1 and k).

    Returns (time_s, x, y, approach speed in widths/frame), with velocities averaged over the cells that lost
    speed (``weights``: (R, C)).
    """
    t, v = sig.times, sig.vel
    n = len(t)
    w = weights / max(float(weights.sum()), 1e-12)
    u = v[k - 1]
    su = np.linalg.norm(u, axis=-1)
    unit = u / np.maximum(su, 1e-9)[..., None]

    def along(j: int) -> float:
        if j < 1 or j >= n:
            return 0.0
        return float((w * (v[j] * unit).sum(-1)).sum())

    p_prev, p_in, p_k, p_next = along(k - 2), along(k - 1), along(k), along(k + 1)
    if k - 2 >= 1 and p_prev > p_in and p_prev > 0:
        # Interval k-1 is already slowed by the contact: the approach speed is that of k-2, extrapolated.
        v_in, d, j = p_prev, p_in, k - 1
        v_out = max(0.0, -p_k)
    else:
        accel = max(0.0, p_in - p_prev) if k - 2 >= 1 else 0.0
        v_in, d, j = p_in + 0.5 * accel, p_k, k
        v_out = max(0.0, -p_next)
    a = contact_fraction(v_in, d, v_out)
    dt = float(t[j] - t[j - 1])
    time_s = float(t[j - 1]) + a * dt
    has = sig.mag[k - 1] > 0
    wpos = w * has
    tot = float(wpos.sum())
    if tot > 0:
        x = float((np.where(has, sig.cx[k - 1], 0.0) * wpos).sum() / tot)
        y = float((np.where(has, sig.cy[k - 1], 0.0) * wpos).sum() / tot)
    else:
        x, y = 0.5, 0.5
    return time_s, float(np.clip(x, 0, 1)), float(np.clip(y, 0, 1)), float(max(v_in, 0.0))


def region_centroids(sig: Signals, weights: np.ndarray, lo: int, hi: int) -> list[np.ndarray | None]:
    """Centroid (x, y) of the frame difference over the cells ``weights`` (R, C) for the intervals lo..hi-1
    (None where the difference there is empty or outside the shot)."""
    n = len(sig.times)
    w = weights / max(float(weights.sum()), 1e-12)
    out: list[np.ndarray | None] = []
    for j in range(lo, hi):
        if j < 1 or j >= n:
            out.append(None)
            continue
        e = float((w * sig.energy[j]).sum())
        out.append((w[..., None] * sig.moments[j]).sum(axis=(0, 1)) / e if e > 1e-6 else None)
    return out


def centroid_onset(sig: Signals, k: int, weights: np.ndarray, v_flow: float,
                   reach: int = TRACK_REACH) -> tuple[float | None, float] | None:
    """Sub-frame onset of the impact the flow scores at ``k``, from the frame difference's centroid.

    The difference of interval j covers the object at frames j-1 and j, so its centroid moves by
    ``s_j = (v_{j-1} + v_j) / 2`` (object speeds along the approach). Approaching at V and hitting at the
    fraction ``a`` of the interval after frame c, then leaving at ``r*V`` backwards (r = 0: a stop), the
    first centroid move below V/2 is ``s_{c+2} = (a*(1+r) - 2r) * V/2`` and the next is ``-r*V``; hence
    ``a`` and the onset. The flow loses fast or finely textured objects (its patches lock onto the texture)
    and then reports the stop early; the difference keeps following the object, up to ``reach`` intervals
    on. Returns (onset, approach speed in widths per interval), with onset None where the centroid keeps
    moving on at the approach speed through all of ``reach`` (no stop: the flow lost track), or None where
    the centroid does not move along with the flow's approach (the difference there is dominated by
    something else)."""
    n = len(sig.times)
    lo, hi = k - 2, min(n, k + 3 + reach)
    cents = region_centroids(sig, weights, lo, hi)
    if hi - lo < 5 or any(c is None for c in cents[:4]):
        return None
    c0, c2 = cents[0], cents[2]
    assert c0 is not None and c2 is not None  # checked just above
    approach = c2 - c0
    norm = float(np.linalg.norm(approach))
    if norm <= 1e-12:
        return None
    unit = approach / norm
    moves = [float(np.dot(b - a, unit)) if a is not None and b is not None else None
             for a, b in zip(cents[:-1], cents[1:])]  # moves[i]: interval lo+1+i
    m0, m1 = moves[0], moves[1]
    assert m0 is not None and m1 is not None  # cents[:3] are set
    v = max(m0, m1)  # approach speed (interval k may already hold the contact)
    if v <= 1e-9 or v < CENTROID_AGREE * v_flow:
        return None
    for i in range(2, len(moves)):
        s = moves[i]
        if s is None:
            return None
        if s >= 0.5 * v:
            v = max(v, s)
            continue
        j = lo + 1 + i
        nxt = moves[i + 1] if i + 1 < len(moves) else None
        r = float(np.clip(-nxt / v, 0.0, 1.0)) if nxt is not None else 0.0
        a = float(np.clip((2.0 * s / v + 2.0 * r) / (1.0 + r), 0.0, 1.0))
        return float(sig.times[j - 2]) + a * float(sig.times[j - 1] - sig.times[j - 2]), v
    return (None, v) if len(moves) == 2 + reach + 2 else None


def neighbourhood_max(a: np.ndarray, centre: bool = True) -> np.ndarray:
    """Per cell of an (..., R, C) array, the largest value in its 3 x 3 neighbourhood (without the cell itself
    when ``centre`` is False)."""
    p = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(1, 1), (1, 1)], mode="constant", constant_values=-np.inf)
    r, c = a.shape[-2:]
    return np.max([p[..., i:i + r, j:j + c] for i in range(3) for j in range(3) if centre or (i, j) != (1, 1)],
                  axis=0)


def lights_up(rise: np.ndarray, energy: np.ndarray, around: np.ndarray, k: int, level: float) -> np.ndarray:
    """(R, C) cells whose brightest block rises by ``level`` or more from frame k-1 to k, suddenly (the cell's
    rise in the interval before is below FLASH_SUDDEN of it), out of a still neighbourhood (``around``: the
    5 x 5 neighbourhood maximum of ``energy``, none of it changing by FLASH_QUIET of the cell's change at k
    in the two intervals before): the start of a flash or of a burst (:func:`find_flashes`,
    :func:`find_bursts`)."""
    before = np.maximum(around[k - 1], around[k - 2])
    return cast(np.ndarray, (rise[k] >= level) & (rise[k - 1] < FLASH_SUDDEN * rise[k])
                & (before < FLASH_QUIET * energy[k]))


def border_cells(shape: tuple[int, ...]) -> np.ndarray:
    """The cells of a grid of ``shape`` on the frame's border."""
    border = np.zeros(shape, bool)
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
    return border


def find_flashes(rise: np.ndarray, energy: np.ndarray, times: np.ndarray, level: float | None = None,
                 fall: int | None = None) -> list[tuple[int, int, int]]:
    """Flashes and bursts (a muzzle flash, sparks, a smoke puff catching the light, lightning; a light that
    stays on is :func:`light_event`'s):
    (interval k, row, col) where a cell's brightest block rises by ``level`` (FLASH_RISE) or more from
    frame k-1 to k, suddenly (the cell's rise in the interval before is below FLASH_SUDDEN of it) out of a
    still neighbourhood (no cell of its 5 x 5 neighbourhood changed by FLASH_QUIET of the cell's change at k
    in the two intervals before: an object moving in, a swipe, changes the cells it comes from first, and a
    fast swipe crosses a whole cell in one interval), and
    transiently: within ``fall`` (FLASH_FALL) intervals the cell's difference
    drops back below half of that at k (light fades or the puff spreads; an object that moves in keeps
    moving or stays), and, for a cell at the frame's border, in place: no neighbouring cell brightens by
    FLASH_SUDDEN of the rise in the next interval (a bright object that came in from outside the frame, with
    no neighbour to see it first, moves on into the next cell). The event
    is at frame k, the first frame that shows the light. One per interval (the strongest cell), none within
    FLASH_GAP intervals of the previous one in the same cell.

    ``rise`` (n, R, C) is the EN_RISE channel; ``energy`` (n, R, C) the unpooled mean difference."""
    level = FLASH_RISE if level is None else level
    fall = FLASH_FALL if fall is None else fall
    n = len(times)
    out: list[tuple[int, int, int]] = []
    last: dict[tuple[int, int], int] = {}
    around = neighbourhood_max(neighbourhood_max(energy)) if n else energy   # 5 x 5: a swipe may cross a cell
    for k in range(3, n):
        cand = lights_up(rise, energy, around, k, level)
        if not cand.any():
            continue
        after = energy[k + 1:k + 1 + fall]
        if len(after) == 0:
            continue
        cand &= after.min(axis=0) < 0.5 * energy[k]
        # a bright object that came in from outside the frame (no neighbour saw it before) moves on and
        # lights up a neighbouring cell next; a flash fades where it is
        cand &= ~border_cells(cand.shape) | (neighbourhood_max(rise[k + 1], centre=False) < FLASH_SUDDEN * rise[k])
        if not cand.any():
            continue
        r, c = np.unravel_index(int(np.argmax(np.where(cand, rise[k], -1.0))), cand.shape)
        cell = (int(r), int(c))
        if k - last.get(cell, -10 * FLASH_GAP) <= FLASH_GAP:
            continue
        last[cell] = k
        out.append((k, cell[0], cell[1]))
    return out


def find_bursts(rise: np.ndarray, energy: np.ndarray, times: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """Bursts of light that spread instead of fading where they appeared (a fireball, a firework's shell, lit
    smoke): (interval k, last interval of its life, (R, C) cells it covers). Like a flash (:func:`find_flashes`)
    it brightens a cell's brightest block by BURST_RISE or more from frame k-1 to k, suddenly, out of a still
    5 x 5 neighbourhood, and away from the frame's border (a bright thing that comes in from outside the
    frame grows as one does); unlike one, within BURST_GROW_S the cells lit by half its first rise or more grow
    to BURST_GROWTH times as many, a cell an interval at most. Its area is those cells and their neighbours; it
    lives until that area's difference stays under BURST_QUIET for two intervals (BURST_MAX_S at most)."""
    n = len(times)
    out: list[tuple[int, int, np.ndarray]] = []
    if n < 4:
        return out
    dt = max(float(np.median(np.diff(times))), 1e-6)
    grow = max(1, int(round(BURST_GROW_S / dt)))
    around = neighbourhood_max(neighbourhood_max(energy))
    for k in range(3, n - 1):
        cand = lights_up(rise, energy, around, k, BURST_RISE)
        for _, end, area in out:   # a burst's own light, later on
            if k <= end:
                cand &= ~area
        if not cand.any():
            continue
        peak = float(np.where(cand, rise[k], 0.0).max())
        first = rise[k] >= 0.5 * peak
        if (first & border_cells(first.shape)).any():
            continue   # a bright thing coming in from outside the frame (a swung hammer head) grows like one
        reach = first.copy()
        lit = first.copy()
        for j in range(k + 1, min(n, k + 1 + grow)):
            reach = neighbourhood_max(reach.astype(np.float64)) > 0   # it grows a cell an interval at most
            lit |= (rise[j] >= 0.5 * peak) & reach
        if lit.sum() < BURST_GROWTH * first.sum():
            continue
        area = neighbourhood_max(lit.astype(np.float64)) > 0
        end = min(n - 1, k + int(round(BURST_MAX_S / dt)))
        quiet = 0
        for j in range(k + 1 + grow, end + 1):
            # the light travels on (sparks flying out): the cells next to the area that it lights join it
            area |= (neighbourhood_max(area.astype(np.float64)) > 0) & (rise[j] >= 0.5 * peak)
            quiet = quiet + 1 if float(energy[j][area].max()) < BURST_QUIET else 0
            if quiet >= 2:
                end = j
                break
        out.append((k, end, area))
    return out


def passes_through(sig: Signals, k: int, weights: np.ndarray, grid: tuple[int, int], reach: int = 2,
                   rel: float | None = None) -> bool:
    """Whether the object that seems to stop at ``k`` moved on instead: a fast, thin object (a bar or a
    wiper swiping across, a swung stick passing by) crosses a cell in an interval or two and the flow loses
    it there, which looks like a stop. The pixels ahead of it still change: if, one and two intervals later,
    the cell where the approach velocity carries the region's centre (when that is another cell) changes by
    at least ``rel`` (PASS_REL) of what the region's own cell changed while the object was in it, the object
    passed on. A real stop leaves nothing changing ahead. Only for objects that cross PASS_CELLS of a cell or more
    per interval."""
    rel = PASS_REL if rel is None else rel
    n = len(sig.times)
    rows, cols = grid
    w = weights / max(float(weights.sum()), 1e-12)
    has = sig.mag[k - 1] > 0
    tot = float((w * has).sum())
    if tot <= 0 or sig.cell_energy.size == 0:
        return False
    cx = float((np.where(has, sig.cx[k - 1], 0.0) * w).sum() / tot)
    cy = float((np.where(has, sig.cy[k - 1], 0.0) * w).sum() / tot)
    v = (w[..., None] * sig.vel[k - 1]).sum(axis=(0, 1))   # widths per interval
    if abs(float(v[0])) * cols < PASS_CELLS and abs(float(v[1])) * ASPECT * rows < PASS_CELLS:
        return False
    r0, c0 = min(rows - 1, int(cy * rows)), min(cols - 1, int(cx * cols))
    e0 = float(sig.cell_energy[k - 1][r0, c0])
    if e0 <= 0:
        return False
    for step in range(1, reach + 1):
        j = k - 1 + step
        if j >= n:
            break
        x, y = cx + v[0] * step, cy + v[1] * step * ASPECT
        if not (0.0 <= x < 1.0 and 0.0 <= y < 1.0):
            break
        r, c = int(y * rows), int(x * cols)
        if (r, c) == (r0, c0):
            continue
        if float(sig.cell_energy[j][r, c]) >= rel * e0:
            return True
    return False


def residual_end(sig: Signals, k: int, weights: np.ndarray, reach: int | None = None,
                 rel: float | None = None) -> float | None:
    """End time of the residual motion after the stop scored at ``k``, or None where there is none.

    The intervals k+1, k+2, ... are residual while the region's flow is not reversed along the approach and
    its frame difference is above ``rel`` times the quietest difference of the region over the following
    intervals (its background once the object rests). Defaults: RESIDUAL_REACH, RESIDUAL_REL."""
    reach = RESIDUAL_REACH if reach is None else reach
    rel = RESIDUAL_REL if rel is None else rel
    n = len(sig.times)
    w = weights / max(float(weights.sum()), 1e-12)
    d = (w[..., None] * sig.vel[k - 1]).sum(axis=(0, 1))
    norm = float(np.linalg.norm(d))
    if norm <= 1e-12 or k + 1 >= n:
        return None
    d = d / norm
    span = range(k + 1, min(n, k + 3 + reach))
    ens = [float((w * sig.energy[j]).sum()) for j in span]
    bg = min(ens)
    end = None
    for i, j in enumerate(span[:reach]):
        if ens[i] > rel * bg and float((w * (sig.vel[j] @ d)).sum()) >= 0.0:
            end = j
        else:
            break
    return None if end is None else float(sig.times[end])


def difference_moves_on(sig: Signals, k: int, x: float, y: float, grid: tuple[int, int],
                        reach: int = 2) -> bool:
    """Whether the frame difference around a stop scored at ``k`` at (x, y) keeps moving on the way it came,
    by MOVE_CELLS of a cell or more in each interval from the one before the approach to ``reach`` after
    it, keeping SWEEP_KEEP of its mass: a swept bar, stick or wiper, which has little texture for the flow
    to hold, so that the flow loses its speed (or even its direction) and reports a stop, while the pixels
    it crosses go on changing. Tracked on the unpooled difference grid in a 5 x 5 cell window that follows
    the difference's centroid; the direction is the difference's own, each interval's measured against the
    way of the one before (a blade turning about its pivot sweeps an arc). One that sweeps on out of the frame
    (at the border, what is left of its difference still moves outwards) moves on too. A real stop leaves
    the difference there fading; a bounce moves it back."""
    n = len(sig.times)
    if k < 3 or k + reach > n or sig.cell_energy.size == 0:
        return False
    rows, cols = grid
    rr, cc = np.mgrid[0:rows, 0:cols]
    scale = np.array([1.0, 1.0 / (ASPECT * rows / cols)])   # cell steps to equal lengths on the frame

    def centroid(j: int, at: np.ndarray) -> tuple[float, np.ndarray]:
        r0, c0 = int(round(float(at[1]))), int(round(float(at[0])))
        win = (np.abs(rr - r0) <= 2) & (np.abs(cc - c0) <= 2)
        e = np.where(win, sig.cell_energy[j], 0.0)
        m = float(e.sum())
        if m <= 0:
            return 0.0, at
        return m, np.array([(e * cc).sum() / m, (e * rr).sum() / m])

    def sweeps(first: int) -> bool:
        """Tracked from interval ``first`` (direction from it to the next) on through k + reach - 1."""
        m0, p0 = centroid(first, np.array([x * cols - 0.5, y * rows - 0.5]))
        mass, p1 = centroid(first + 1, p0)
        way = (p1 - p0) * scale
        norm = float(np.linalg.norm(way))
        if m0 <= 0 or mass <= 0 or norm < MOVE_CELLS:
            return False
        way /= norm
        pos = p1
        for j in range(first + 2, k + reach):
            ahead = pos + way / scale
            m, p = centroid(j, pos)
            move = float(((p - pos) * scale) @ way)
            if not (-0.5 <= ahead[0] <= cols - 0.5 and -0.5 <= ahead[1] <= rows - 0.5):
                # at the border: what is leaving the frame loses mass but its remains still move outwards,
                # or, within the last cell (too coarse to show the move), change as much as on the way in
                # without moving back (a stop there would leave the difference fading, a bounce moves it
                # back); or, after it moved on through the stop's own interval, it is gone altogether
                gone = j > k and m < BORDER_GONE * mass
                if move >= 0.5 * MOVE_CELLS or gone or (move >= 0.0 and m >= BORDER_KEEP * mass):
                    return True
                if move > -MOVE_CELLS and m < mass and j + 1 < k + reach:
                    continue   # less of it is left and it did not move back: it may be gone an interval later
                return False
            if m < SWEEP_KEEP * mass or move < MOVE_CELLS:
                return False
            step = (p - pos) * scale   # a swung blade or stick sweeps an arc: its way turns as it goes
            way = step / max(float(np.linalg.norm(step)), 1e-12)
            pos = p
        return True

    # from the interval before the approach; or from the approach itself when the object only just came
    # into the frame (nothing of it changed before)
    entering = centroid(k - 2, np.array([x * cols - 0.5, y * rows - 0.5]))[0] <= 0.0
    return sweeps(k - 2) or (entering and k + reach < n and sweeps(k - 1))


def dominant_motion(sig: Signals, grid: tuple[int, int],
                    aspect: float = ASPECT) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per interval, the speed (widths/frame) of the fastest well-covered neighbourhood, its pace (that
    speed in sizes of what moves there per frame, the size being the square root of the neighbourhood's
    moving area, in widths of a picture ``aspect`` (width over height) wide; at most that of the 3 x 3
    cells) and its cell (row, col).

    The pace does not depend on the framing: a hand chopping fills a close-up and crosses a frame width in
    a second, yet moves three to six of its own sizes a second; a swung stick, a thrown ball or a bar swiped
    across moves ten or more. (Measured: the chopping clip's strokes 3-6, one 9, each over a tenth of the
    frame; the simulated swipes 8-57; the flow's drift over noise texture or under a shaking camera, large
    and slow, 4-7.)"""
    n = len(sig.vel)
    if not n:
        return np.zeros(0), np.zeros(0), np.zeros((0, 2), int)
    s = (np.linalg.norm(sig.vel, axis=-1) * (sig.area >= 0.15)).reshape(n, -1)
    best = np.argmax(s, axis=1)
    speed = s[np.arange(n), best]
    cell_area = (1.0 / grid[1]) * (1.0 / (grid[0] * aspect))          # widths squared
    size = np.sqrt(np.maximum(sig.area.reshape(n, -1)[np.arange(n), best], 1e-6) * cell_area)
    return speed, speed / size, np.stack(np.divmod(best, grid[1]), axis=1)


def end_at_strikes(whooshes: list[dict], hits: list[dict], grid: tuple[int, int], dt: float) -> None:
    """A whoosh whose own motion strikes something ends at the strike (in place): the fast motion of a
    hammer or a stick goes on through its blow into the rebound, but what swishes is the swing, and the
    blow is an impact of its own. The strike is a flow stop inside the whoosh's span, at least WHOOSH_MIN_S
    after its start, within one cell of the whoosh's fastest motion in the stop's interval or the one
    before, approaching the way that motion went (cosine 0.5 or more), after which the motion does not go
    on that way at half its speed or more. A contact of something else (a ball landing below a bar that
    swipes by) does not cut it. Each whoosh's ``path`` (interval end times, (rows, cols) and velocity of its
    fastest neighbourhood) is used and removed."""
    rows, cols = grid
    for w in whooshes:
        t, where, vel = w.pop("path")
        start, end = w["time_s"], w["time_s"] + w["duration_s"]
        for h in sorted(hits, key=lambda h: h["time_s"]):
            if "u" not in h or not start + max(WHOOSH_MIN_S, 1.5 * dt) < h["time_s"] < end - 1.5 * dt:
                continue
            k = int(np.searchsorted(t, h["time_s"]))
            if not 1 <= k < len(t) - 1:
                continue
            cell = np.array([min(int(h["y"] * rows), rows - 1), min(int(h["x"] * cols), cols - 1)])
            came = vel[k - 1]
            speed = float(np.hypot(*came))
            if (not any(np.abs(where[j] - cell).max() <= 1 for j in (k - 1, k))
                    or float(np.dot(h["u"], came)) < 0.5 * speed
                    or float(vel[k + 1] @ came) >= 0.5 * speed * speed):
                continue
            prof = np.asarray(w["extra"]["speed_profile"], dtype=np.float64)
            kept = (h["time_s"] - start) / (end - start) * (len(prof) - 1)
            cut = np.interp(np.linspace(0.0, kept, len(prof)), np.arange(len(prof)), prof)
            w["duration_s"] = h["time_s"] - start
            w["extra"]["speed_profile"] = [round(float(p), 4) for p in cut / max(float(cut.max()), 1e-9)]
            break


def find_whooshes(times: np.ndarray, speed_wps: np.ndarray, pace: np.ndarray | None = None,
                  threshold: float = WHOOSH_SPEED, min_s: float = WHOOSH_MIN_S,
                  aspect: float = ASPECT) -> list[tuple[float, float, np.ndarray]]:
    """Spans of fast motion: (start_s, duration_s, speed profile 0..1). Start and end are interpolated at
    half the threshold crossing (speed rise and fall). With ``pace`` (per interval, sizes of what moves per
    second; :func:`dominant_motion`), a span must reach WHOOSH_PACE somewhere or travel WHOOSH_PASS of the
    picture's long side in all (``aspect``: its width over its height; a portrait picture's width is its
    short side)."""
    out: list[tuple[float, float, np.ndarray]] = []
    n = len(speed_wps)
    dt = np.diff(times, prepend=times[:1])   # interval k runs from frame k-1 to frame k
    fast = speed_wps >= threshold
    k = 0
    last_end = 0
    while k < n:
        if not fast[k]:
            k += 1
            continue
        a = k
        while k < n and fast[k]:
            k += 1
        b = k  # [a, b) fast intervals
        lo, hi = a, b
        if out and a < last_end:
            continue
        half = 0.5 * threshold
        while lo > 1 and speed_wps[lo - 1] >= half:
            lo -= 1
        while hi < n and speed_wps[hi] >= half:
            hi += 1
        last_end = hi
        k = max(k, hi)
        start = float(times[lo - 1]) if lo >= 1 else float(times[0])
        end = float(times[min(hi, n - 1)])
        if end - start < min_s or b - a < 2:
            continue
        if (pace is not None and pace[lo:hi].max() < WHOOSH_PACE
                and float((speed_wps[lo:hi] * dt[lo:hi]).sum()) < WHOOSH_PASS * max(1.0, 1.0 / aspect)):
            continue
        seg = speed_wps[lo:hi]
        prof = np.interp(np.linspace(0, len(seg) - 1, PROFILE_POINTS), np.arange(len(seg)), seg)
        out.append((start, end - start, prof / max(float(prof.max()), 1e-9)))
    return out


def strong_enough(candidates: list[tuple[float, dict]], rel: float | None = None) -> list[dict]:
    """The candidates (score, event) whose score reaches ``rel`` times the range's strong-peak level (the
    90th percentile of all candidate scores): the threshold adapts to each clip's scale of motion."""
    if not candidates:
        return []
    rel = CLIP_REL if rel is None else rel
    level = float(np.percentile([c[0] for c in candidates], 90))
    return [e for sc, e in candidates if sc >= rel * level]


def strong_enough_scored(candidates: list[tuple[float, dict]], rel: float | None = None) -> list[tuple[float, dict]]:
    """:func:`strong_enough`, keeping the scores."""
    kept = {id(e) for e in strong_enough(candidates, rel)}
    return [c for c in candidates if id(c[1]) in kept]


def mask_recoils(candidates: list[tuple[float, dict]], window_s: float | None = None,
                 ratio: float | None = None) -> list[tuple[float, dict]]:
    """One candidate (score, event) per contact.

    * Recoils: a candidate that follows, within ``window_s``, one at least ``ratio`` times as strong is the
      same hand or tool recoiling, lifting or being caught (a weak stop that is no new sound, and would be
      masked by the strike's sound anyway), unless it approaches in the same direction as the strong one
      (cosine above RECOIL_SAME): that is a new contact with the same surface, a ball's next bounce or the
      next of a quick series of strikes.
    * Approach and strike: two candidates within MERGE_FRAMES frame intervals of each other, approaching in
      the same direction, are one contact; the later is kept. (Two objects that land within those frames in
      different places are one sound to the ear too.) The flow hiccups on the way in (motion blur,
      a tracking loss) and the motion then goes on to the real stop.

    Candidates without an approach direction (key ``u``) are treated as recoils of any stronger one.
    Defaults: RECOIL_S, RECOIL_RATIO."""
    window_s = RECOIL_S if window_s is None else window_s
    ratio = RECOIL_RATIO if ratio is None else ratio

    def t_of(e: dict) -> float:
        return float(e.get("stop_s", e["time_s"]))

    def same_way(e: dict, f: dict) -> bool:
        if "u" not in e or "u" not in f:
            return False
        return float(np.dot(e["u"], f["u"])) > RECOIL_SAME

    out = []
    for sc, e in candidates:
        t = t_of(e)
        merge = e.get("dt_s", 0.0) * MERGE_FRAMES
        if any(0.0 < t_of(f) - t <= merge and same_way(e, f) for _, f in candidates):
            continue   # the approach of a later stop
        if any(0.0 < t - t_of(f) <= window_s and s2 >= ratio * sc and not same_way(e, f)
               for s2, f in candidates):
            continue
        out.append((sc, e))
    return out


def difference_stops(sig: Signals, min_speed: float, grid: tuple[int, int],
                     run: int = STILL_RUN, rel: float = STILL_REL) -> list[tuple[int, np.ndarray]]:
    """Stops seen in the frame difference: (interval c, weights (R, C)) where a region kept changing for
    ``run`` intervals up to c and is still from c+1 on.

    The optical flow loses small or low-contrast objects (a foot against the floor), but the pixels they
    cross still change. A neighbourhood whose pooled difference stays above STILL_MIN for ``run`` intervals
    is moving; if over the cells (unpooled, so that the other foot lifting next to it does not count) that
    interval c changed, the object at frames c-1 and c, the next interval's difference is below ``rel`` of
    their level, the object rests from frame c on. Its
    centroid must have moved at ``min_speed`` (widths per interval) at least, not upwards faster than
    sideways (the top of a lift), and not out of the frame. One stop per interval, the strongest."""
    en, mom = sig.energy, sig.moments
    n = len(sig.times)
    out: list[tuple[int, np.ndarray]] = []
    if n < run + 3 or en.size == 0 or sig.cell_energy.size == 0:
        return out
    raw = en
    for c in range(run, n - 2):
        window = raw[c - run + 1:c + 1]
        moving = (window > STILL_MIN).all(axis=0)
        if not moving.any():
            continue
        level = window.mean(axis=0)
        w = np.where(moving, raw[c], 0.0)
        best = int(np.argmax(level * moving))
        r0, c0 = divmod(best, grid[1])
        near = np.zeros(grid, bool)
        near[max(0, r0 - 1):r0 + 2, max(0, c0 - 1):c0 + 2] = True
        w = w * near
        if float(w.sum()) <= 0.0:
            continue
        wn = w / float(w.sum())
        own = np.where(near, sig.cell_energy[c], 0.0)  # the cells the object covered at frames c-1 and c
        own_level = float((own * sig.cell_energy[c - run + 1:c + 1].mean(axis=0)).sum())
        if float((own * sig.cell_energy[c + 1]).sum()) >= rel * own_level:
            continue
        cents = [(wn[..., None] * mom[j]).sum(axis=(0, 1)) / max(float((wn * raw[j]).sum()), 1e-12)
                 for j in (c - 2, c)]
        move = cents[1] - cents[0]
        speed = float(np.linalg.norm(move)) / 2.0
        if speed < min_speed or -move[1] > abs(move[0]):
            continue
        ux, uy = move / max(2.0 * speed, 1e-12)
        cx, cy = float(cents[1][0]), float(cents[1][1]) * en_y_scale(grid)
        if (ux < -0.5 and cx < EDGE) or (ux > 0.5 and cx > 1 - EDGE) or (uy > 0.5 and cy > 1 - EDGE):
            continue
        out.append((c, w))
    return out


def blob_tracks(blobs: np.ndarray, link: float = BOUNCE_LINK) -> list[list[tuple[int, float, float, float, bool]]]:
    """Tracks of the difference blobs (n, BLOBS, channels) of one shot: lists of (frame, energy, x, y, at the
    edge), each blob joined to the nearest unclaimed track that ended in the frame before within ``link``
    (greedy, nearest first); a blob left over then to one that ended the frame before that (an object that
    barely moved in one interval, as at a contact, leaves no blob in it)."""
    tracks: list[list[tuple[int, float, float, float, bool]]] = []
    ending: dict[int, list[int]] = {}   # frame -> the tracks whose last blob is in it, in order
    for k, frame in enumerate(blobs):
        ending.pop(k - 2 - BOUNCE_GAP, None)
        rows = [i for i in range(len(frame)) if frame[i, BLOB_ENERGY] > 0]
        cur = frame[rows][:, [BLOB_X, BLOB_Y]].astype(np.float64) if rows else np.zeros((0, 2))
        mine: dict[int, int] = {}
        for back in (1, 2)[:1 + BOUNCE_GAP]:
            open_ = ending.get(k - back, [])
            free = [i for i in range(len(cur)) if i not in mine]
            if not open_ or not free:
                continue
            ends = np.array([tracks[t][-1][2:4] for t in open_])
            dist = np.hypot(cur[free][:, None, 0] - ends[None, :, 0], cur[free][:, None, 1] - ends[None, :, 1])
            taken: set[int] = set()
            for flat in np.argsort(dist, axis=None, kind="stable"):
                a, b = divmod(int(flat), len(open_))
                if dist[a, b] > link:
                    break
                if free[a] in mine or b in taken:
                    continue
                taken.add(b)
                mine[free[a]] = open_[b]
        for i in range(len(cur)):
            if i not in mine:
                tracks.append([])
                mine[i] = len(tracks) - 1
            else:
                ending[tracks[mine[i]][-1][0]].remove(mine[i])
            tracks[mine[i]].append((k, float(frame[rows[i], BLOB_ENERGY]), float(cur[i, 0]), float(cur[i, 1]),
                                    bool(frame[rows[i], BLOB_EDGE] > 0)))
        ending[k] = sorted(mine.values())
    return tracks


def blobs_near(frame: np.ndarray, at: np.ndarray) -> int:
    """How many of a frame's blobs (BLOBS, channels) lie within BOUNCE_CLEAR of ``at``."""
    near = np.hypot(frame[:, BLOB_X] - at[0], frame[:, BLOB_Y] - at[1]) < BOUNCE_CLEAR
    return int((near & (frame[:, BLOB_ENERGY] > 0)).sum())


def crowded(frame: np.ndarray, at: np.ndarray) -> bool:
    """Whether a frame has another blob beside the one at ``at`` (within BOUNCE_CLEAR)."""
    return blobs_near(frame, at) >= 2


def track_stop(times: np.ndarray, blobs: np.ndarray, frames: np.ndarray, ks: np.ndarray, m: np.ndarray,
               edge: list[bool]) -> tuple[float, float] | None:
    """(time, approach speed in widths/s) where a blob track ends because its object came to rest, or None.

    The track's last steps kept their direction and speed (as for a bounce, not upward), the last one
    moved at least a quarter of the step before (the object still arrived in it), and nothing changed
    near its end in the two frames after (it rests: a track that lost its blob to a jump would find one
    near). If the object arrived at the fraction ``a`` of the last interval, that interval's blob centre
    moved ``(1 + a) / 2`` of a whole step: the contact is ``a`` into it."""
    j = len(ks) - 1
    last = int(frames[ks[j]])
    if j < 3 or ks[j] - ks[j - 3] != 3 or last + 2 >= len(times):
        return None
    v = m[j - 1] - m[j - 2]
    step = float(np.hypot(*v))
    if step < BOUNCE_MIN_STEP:
        return None
    u = v / step
    vm = m[j - 2] - m[j - 3]
    if vm @ u < BOUNCE_SMOOTH * float(np.hypot(*vm)) or step < BOUNCE_KEEP * float(np.hypot(*vm)) or u[1] < 0.0:
        return None
    moved = float((m[j] - m[j - 1]) @ u)
    if moved < 0.25 * step or any(edge[j - 2:]):
        return None
    if any(crowded(blobs[frames[ks[q]]], m[q]) for q in range(j - 2, j + 1)):
        return None
    if any(blobs_near(blobs[later], m[j]) for later in (last + 1, last + 2)):
        return None
    a = float(np.clip(2.0 * moved / step - 1.0, 0.0, 1.0))
    dt = float(times[last] - times[last - 1])
    return float(times[last - 1]) + a * dt, step / dt


def blob_bounces(times: np.ndarray, blobs: np.ndarray, grid: tuple[int, int]) -> list[dict]:
    """Contacts of things the optical flow loses, from the frame difference's blobs (:func:`blob_tracks`).

    A small or fast object (a ball falling further than its size in a frame) is lost by the flow, whose
    coarse scales average it into the background, but the pixels it crosses change: its difference blob
    moves with it, centred between its places in the two frames. A bounce or a stop is where that blob,
    after a steady approach that kept its speed, loses at least ABRUPT of it along the approach and does not
    resume it (RESUME) in the step after; or, the contact late in an interval, it still moves on by less
    than BOUNCE_KEEP of a step there and turns back or stops (BOUNCE_TURN) in the step after; or its track
    skips the contact's interval (no blob: the object barely moved across it) and it turns back or stops.
    A blob centre is the object's place at the middle of its interval; the contact is where the line
    through the two centres before meets the line through the two after, along the approach (intervals
    may differ: a frame a rate conversion repeated is dropped).
    Approaches upward (a lift ends by gravity), blobs near another (crossing movers, whose blobs merge and
    split) and blobs cut by the frame's edge are left out."""
    h = 1.0 / en_y_scale(grid)   # the blob image's height in its widths
    frames = np.arange(1, len(times))   # the interval into a shot's first frame spans the cut
    mids = times[frames] - 0.5 * (times[frames] - times[frames - 1])
    out: list[dict] = []
    for track in blob_tracks(blobs[frames]):
        if len(track) < 4:
            continue
        ks = np.array([p[0] for p in track])
        m = np.array([[p[2], p[3]] for p in track])
        edge = [p[4] for p in track]
        for j in range(3, len(track) - 2 if len(track) >= BOUNCE_TRACK else 3):
            missing = int(ks[j + 1] - ks[j]) - 1   # the interval of the contact may have left no blob
            if ks[j] - ks[j - 3] != 3 or ks[j + 2] - ks[j + 1] != 1 or not 0 <= missing <= BOUNCE_GAP:
                continue
            v = m[j] - m[j - 1]
            step = float(np.hypot(*v))
            if step < BOUNCE_MIN_STEP:
                continue
            u = v / step
            v0, vm = m[j - 1] - m[j - 2], m[j - 2] - m[j - 3]
            if (v0 @ u < BOUNCE_STEADY * step or step < BOUNCE_KEEP * float(np.hypot(*v0))
                    or vm @ u < BOUNCE_SMOOTH * float(np.hypot(*vm)) or float(np.hypot(*vm)) < BOUNCE_FIRST * step):
                continue
            a1, a2 = float((m[j + 1] - m[j]) @ u), float((m[j + 2] - m[j + 1]) @ u)
            if u[1] < 0.0:
                continue
            # The first centre after the contact: the next one, or (contact late in the next interval, whose
            # centre lies halfway between the object's place before it and after it, so it still moved on by
            # more than half a step) the one after that, where it must have turned back or stopped. Where the
            # contact's interval left no blob, the next centre is after it; it must turn back or stop.
            after = j + 1
            if missing:
                if a1 >= (1.0 + BOUNCE_KEEP) * step or a2 > BOUNCE_TURN * step:
                    continue
            elif a1 > (1.0 - ABRUPT) * step:
                if not (a1 < BOUNCE_KEEP * step and j + 3 < len(track) and ks[j + 3] - ks[j - 3] == 6
                        and a2 <= BOUNCE_TURN * step and float((m[j + 3] - m[j + 2]) @ u) <= RESUME * step):
                    continue
                after = j + 2
            elif a2 > RESUME * step:
                continue
            x, y = m[j]
            if any(edge[j - 1:after + 1]):   # partly outside the frame: its centre stops as it leaves
                continue
            if any(crowded(blobs[frames[ks[q]]], m[q]) for q in range(j - 2, after + 2)):
                continue
            t0, t1, t2, t3 = (float(mids[ks[q]]) for q in (j - 1, j, after, after + 1))
            speed_in, speed_out = step / (t1 - t0), float((m[after + 1] - m[after]) @ u) / (t3 - t2)
            gap = float((m[after + 1] - m[j]) @ u) - speed_out * (t3 - t1)
            t = t1 + gap / (speed_in - speed_out) if speed_in - speed_out > 1e-9 else t2
            t = float(np.clip(t, t1, t3 if after == j + 1 else t2))
            out.append({"kind": "impact", "time_s": t, "x": float(np.clip(x, 0, 1)), "y": float(np.clip(y / h, 0, 1)),
                        "intensity": float(np.clip(np.sqrt(speed_in / 2.0), 0.05, 1.0)), "confidence": 0.4,
                        "rising": False, "speed_wps": speed_in, "stop_s": t, "extra": {"cue": "bounce"},
                        "dt_s": t2 - t1})
        stop = track_stop(times, blobs, frames, ks, m, edge)
        if stop is not None:
            t, speed = stop
            out.append({"kind": "impact", "time_s": t, "x": float(np.clip(m[-1][0], 0, 1)),
                        "y": float(np.clip(m[-1][1] / h, 0, 1)),
                        "intensity": float(np.clip(np.sqrt(speed / 2.0), 0.05, 1.0)), "confidence": 0.4,
                        "rising": False, "speed_wps": speed, "stop_s": t, "extra": {"cue": "bounce"},
                        "dt_s": float(mids[ks[-1]] - mids[ks[-2]])})
    out.sort(key=lambda e: e["time_s"])
    merged: list[dict] = []
    for e in out:   # one per contact: tracks of the same object that split
        if merged and e["time_s"] - merged[-1]["time_s"] < 1.5 * e["dt_s"] \
                and np.hypot(e["x"] - merged[-1]["x"], e["y"] - merged[-1]["y"]) < BOUNCE_CLEAR:
            if e["speed_wps"] > merged[-1]["speed_wps"]:
                merged[-1] = e
            continue
        merged.append(e)
    return merged


def _lstsq_error(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares coefficients of ``x @ coef = y`` and the summed squared error."""
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    r = y - x @ coef
    return coef, float((r * r).sum())


def hinge_fit(t: np.ndarray, pos: np.ndarray, lo: float,
              hi: float) -> tuple[float, float, np.ndarray, np.ndarray] | None:
    """The best contact moment in [lo, hi] for the path ``pos`` (n, 2) at times ``t``: (moment, squared error
    with the hinge, velocity just before it, change of velocity at it), or None where too few positions lie
    on either side. The path is a + b s + c s^2 + d max(s, 0), s the time from the moment; all SIL_STEPS
    moments are fitted at once (least squares by the normal equations)."""
    tcs = np.linspace(lo, hi, SIL_STEPS)
    ok = ((t[None, :] <= tcs[:, None]).sum(axis=1) >= SIL_MIN_BEFORE) & \
        ((t[None, :] > tcs[:, None]).sum(axis=1) >= SIL_MIN_AFTER)
    if not ok.any():
        return None
    tcs = tcs[ok]
    s = t[None, :] - tcs[:, None]
    x = np.stack([np.ones_like(s), s, s * s, np.maximum(s, 0.0)], axis=2)          # (m, n, 4)
    xtx = np.einsum("mni,mnj->mij", x, x) + 1e-12 * np.eye(4)
    coef = np.linalg.solve(xtx, np.einsum("mni,nk->mik", x, pos))                 # (m, 4, 2)
    r = pos[None] - np.einsum("mni,mik->mnk", x, coef)
    err = (r * r).sum(axis=(1, 2))
    i = int(np.argmin(err))
    return float(tcs[i]), float(err[i]), coef[i, 1], coef[i, 3]


def silhouette_contacts(times: np.ndarray, sil: np.ndarray, camera: np.ndarray | None = None) -> list[dict]:
    """Contacts of things seen whole against the background (:class:`models.motion.Background`): a ball, a
    dropped or thrown object, whose silhouette is followed from frame to frame and whose path changes
    velocity abruptly (see SIL_GAIN). A silhouette is the object at the frame's moment, so a plain or slowly
    moving object (which leaves two thin ends in the frame difference, or none) still has one centre a frame,
    and a small late hop that the difference blobs lose is a hinge in its path. ``camera``: (n, 2) the
    picture's motion in each interval (widths; the first is ignored), taken out of the paths."""
    from models.motion import SIL_SIZE

    h = SIL_SIZE[1] / SIL_SIZE[0]   # the silhouette image's height in its widths
    dt = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    before = after = 0
    if dt > 0:
        before, after = max(SIL_BEFORE, round(SIL_BEFORE_S / dt)), max(SIL_AFTER, round(SIL_AFTER_S / dt))
    # where the camera has carried the picture since the first frame (widths): paths are fitted against the
    # background, so that a hand-held camera's tremor is not taken for a change of the object's velocity
    pan = np.zeros((len(times), 2))
    if camera is not None and len(camera) == len(times) > 1:
        pan[1:] = np.cumsum(np.asarray(camera[1:], np.float64), axis=0)
    out: list[dict] = []
    for track in blob_tracks(sil):
        if len(track) < SIL_MIN_BEFORE + SIL_MIN_AFTER:
            continue
        ks = np.array([p[0] for p in track])
        area = np.array([p[1] for p in track])
        seen = np.array([[p[2], p[3]] for p in track])   # in the picture
        m = seen - pan[ks]                                 # against the background
        edge = np.array([p[4] for p in track])
        for j in range(SIL_MIN_BEFORE - 1, len(track) - SIL_MIN_AFTER):
            v = m[j] - m[j - 1]
            step = float(np.hypot(*v))
            on = float((m[j + 1] - m[j]) @ v) / max(step * step * (ks[j + 1] - ks[j]), 1e-12)
            if step < SIL_MIN_STEP or v[1] < 0 or on > SIL_GOES_ON:
                continue   # not coming down, or going on as before: no contact after j
            win = np.where((ks >= ks[j] - before) & (ks <= ks[j] + 1 + after))[0]
            fit = hinge_fit(times[ks[win]], m[win], float(times[ks[j]]), float(times[ks[j + 1]]))
            if fit is None:
                continue
            tc, err, v_in, jump = fit
            speed = float(np.hypot(*v_in))
            if speed * dt < SIL_MIN_STEP:
                continue
            u = v_in / speed
            s = times[ks[win]] - tc
            _, smooth = _lstsq_error(np.stack([np.ones_like(s), s, s * s], 1), m[win])
            near = win[np.abs(ks[win] - ks[j]) <= 2]
            if (u[1] < SIL_DOWN or float((v_in + jump) @ u) > (1.0 - ABRUPT) * speed or smooth < SIL_GAIN * err
                    or np.sqrt(err / len(win)) > SIL_NOISE * speed * dt or area[win].max() > SIL_AREA * area[win].min()
                    or edge[near].any()):
                continue
            if any(int(((np.hypot(sil[ks[q], :, BLOB_X] - seen[q, 0], sil[ks[q], :, BLOB_Y] - seen[q, 1]) < SIL_CLEAR)
                        & (sil[ks[q], :, BLOB_ENERGY] > 0)).sum()) >= 2 for q in near):
                continue
            out.append({"kind": "impact", "time_s": tc, "x": float(np.clip(seen[j, 0], 0, 1)),
                        "y": float(np.clip(seen[j, 1] / h, 0, 1)),
                        "intensity": float(np.clip(np.sqrt(speed / 2.0), 0.05, 1.0)),
                        "confidence": 0.4, "rising": False, "speed_wps": speed, "stop_s": tc,
                        "extra": {"cue": "silhouette"}, "gain": smooth / max(err, 1e-14)})
    out.sort(key=lambda e: e["time_s"])
    merged: list[dict] = []
    for e in out:   # one per contact: neighbouring moments of the same hinge
        if merged and e["time_s"] - merged[-1]["time_s"] < 1.5 * dt and abs(e["x"] - merged[-1]["x"]) < SIL_CLEAR:
            if e["gain"] > merged[-1]["gain"]:
                merged[-1] = e
            continue
        merged.append(e)
    return merged


def settle_bursts(bursts: list[dict], flashes: list[dict], grid: tuple[int, int], dt: float) -> None:
    """A flash in a burst's area up to BURST_GROW_S before the burst was found is its first light: the burst
    takes that flash's time (its first frame)."""
    for burst in bursts:
        first = [f["time_s"] for f in flashes if 0.0 <= burst["time_s"] - f["time_s"] <= BURST_GROW_S + 1e-9
                 and in_burst(dict(f, time_s=burst["time_s"]), [burst], grid, dt)]
        if first:
            burst["time_s"] = burst["stop_s"] = min(first)


def in_burst(e: dict, bursts: list[dict], grid: tuple[int, int], dt: float) -> bool:
    """Whether the event ``e`` lies in one of ``bursts``' areas (:func:`find_bursts`) while it lives (from a
    frame and a half before its first frame: the burst's own start)."""
    rows, cols = grid
    r, c = min(rows - 1, max(0, int(e["y"] * rows))), min(cols - 1, max(0, int(e["x"] * cols)))
    return any(b["time_s"] - 1.5 * dt <= e["time_s"] <= b["until_s"] and bool(b["area"][r, c]) for b in bursts)


def lit_centre(rise: np.ndarray, peak: float) -> tuple[float, float]:
    """Where a flash is: the centre of the cells of ``rise`` (R, C: the brightening at the flash's frame) that
    brighten by half of ``peak`` (its strongest cell's) or more, weighted by it. A muzzle flash is its cell
    or two; a flash that lights the whole frame (lightning, a photographer's flash) is the frame's centre,
    not whichever cell rose a little more."""
    rows, cols = rise.shape
    w = np.where(rise >= 0.5 * peak, rise, 0.0)
    total = float(w.sum())
    r = float((w.sum(axis=1) * np.arange(rows)).sum()) / total
    c = float((w.sum(axis=0) * np.arange(cols)).sum()) / total
    return (c + 0.5) / cols, (r + 0.5) / rows


def light_event(energy: np.ndarray | None, times: np.ndarray, k: int, grid: tuple[int, int]) -> dict:
    """The event of the light changing at once at frame ``k`` (a :func:`sudden_changes` frame that
    :func:`relit` keeps the same picture: a switch's click), at the first frame in the new light, placed where
    the picture changed most: the centroid of the frame difference (``energy``, the per-frame EN_* channels;
    the frame's centre without them). Its intensity grows with the mean difference: a quarter of the gray
    range over the whole frame is full."""
    x, y, level = 0.5, 0.5, 0.5
    if energy is not None and len(energy) > k:
        en = energy[k].astype(np.float64)
        total = float(en[..., EN_MEAN].sum())
        if total > 0:
            x = float(np.clip(en[..., EN_X].sum() / total, 0, 1))
            y = float(np.clip(en[..., EN_Y].sum() / total * en_y_scale(grid), 0, 1))
            level = float(np.clip(4.0 * total / en[..., EN_MEAN].size, 0.1, 1.0))
    t = float(times[k])
    return {"kind": "impact", "time_s": t, "x": x, "y": y, "confidence": 0.5, "intensity": level,
            "extra": {"cue": "light"}, "stop_s": t, "rising": False}


def en_y_scale(grid: tuple[int, int]) -> float:
    """Factor from the difference moments' y (in widths of the 8 x 9 px per cell image that
    :func:`models.motion.diff_energy` averages) to a fraction of the frame height."""
    return (grid[1] * 8.0) / (grid[0] * 9.0)


def stop_event(sig: Signals, c: int, weights: np.ndarray, fps: float, grid: tuple[int, int]) -> dict:
    """The contact event of a difference stop at interval ``c`` (see :func:`difference_stops`).

    The difference of an interval grows with the object's displacement in it (for displacements below its
    size), so the fraction ``a`` of the stop interval that the object still moved is its difference over
    the level of the two intervals before; the onset is ``a`` into interval c. Position: the centroid of
    the stop interval's difference."""
    wn = weights / max(float(weights.sum()), 1e-12)
    e = [float((wn * sig.energy[j]).sum()) for j in (c - 2, c - 1, c)]
    a = float(np.clip(e[2] / max(0.5 * (e[0] + e[1]), 1e-12), 0.0, 1.0))
    t = float(sig.times[c - 1]) + a * float(sig.times[c] - sig.times[c - 1])
    mx, my = (wn[..., None] * sig.moments[c]).sum(axis=(0, 1)) / max(e[2], 1e-12)
    first = (wn[..., None] * sig.moments[c - 2]).sum(axis=(0, 1)) / max(e[0], 1e-12)
    vx, vy = (np.array([mx, my]) - first) / 2.0
    return {"kind": "impact", "time_s": t, "x": float(np.clip(mx, 0, 1)),
            "y": float(np.clip(my * en_y_scale(grid), 0, 1)),
            "intensity": float(np.clip(np.sqrt(float(np.hypot(vx, vy)) * fps / 2.0), 0.05, 1.0)),
            "confidence": 0.4, "rising": bool(-vy > 0.5 * abs(vx)),
            "speed_wps": float(np.hypot(vx, vy)) * fps, "stop_s": t, "weak": True}


def ambience_level(activity: float) -> float:
    """Bed level 0.1..1 from a shot's mean motion activity (moving area x speed, per second).

    Logarithmic, as loudness is: on the reference clips activity runs from about 0.5 (a still hand)
    to 8 (hammering), which maps to about 0.3..0.95; calm shots get a room tone, busy ones air.
    """
    return float(np.clip(0.15 + 0.25 * np.log2(1.0 + max(activity, 0.0)), 0.1, 1.0))


def detect_events(arrays: dict, fps: float) -> Detection:
    """All events from the feature arrays of :meth:`MotionFeatures.arrays` (pure)."""
    arrays = drop_repeats(arrays)
    times, cells = arrays["times"], arrays["cells"]
    n = len(times)
    grid = cells.shape[1:3]
    aspect = float(arrays.get("aspect", ASPECT))
    if n == 0:
        return Detection([], [], [])
    cut_idx, light_idx = cuts_and_lights(arrays["hist"], arrays["diff"], arrays.get("same"))
    guard_idx = sorted(cut_idx + light_idx)   # the flow, the difference and the silhouettes jump there too
    spans = shot_spans(n, cut_idx)
    dt = 1.0 / fps
    shot_times = [(float(times[a]), float(times[b - 1]) + dt) for a, b in spans]
    found: list[dict] = []
    candidates: list[tuple[float, dict]] = []
    still: list[dict] = []
    flashes: list[dict] = []
    bounces: list[dict] = []
    whole: list[dict] = []   # contacts of silhouettes
    whooshes: list[dict] = []
    bursts: list[dict] = []

    def at_cut(e: dict) -> bool:
        return any(abs(float(np.searchsorted(times, e["time_s"])) - c) <= CUT_GUARD for c in guard_idx)

    for (a, b), (s0, s1) in zip(spans, shot_times):
        sub = cells[a:b].copy()
        sub[0] = 0.0  # the interval into a shot's first frame spans the cut
        en = arrays.get("energy")
        en = en[a:b].astype(np.float32) if en is not None else None
        sig = make_signals(times[a:b], sub, en)
        min_step = max(IMPACT_MIN_SPEED / fps, FLOW_FLOOR)
        score, per_cell = decel_scores(sig, min_step, grid)
        floor = 2e-4
        if PER_REGION:
            peaks = region_peaks(per_cell, floor / 9.0)
        else:
            peaks = [(k, per_cell[k]) for k in pick_peaks(score, floor, rel=PEAK_REL)]
        for k, weights in peaks:
            if k < 2:
                continue
            if any(abs(a + k - 1 - c) <= CUT_GUARD for c in guard_idx):
                continue
            if not (weights * (sig.mag[k - 1] > 0)).any():
                # nothing of its own region moved into the stop: the 3 x 3 pooling lent it a neighbour's
                # approach, and it has no place of its own (it would stand at the picture's centre)
                log.debug("stop at %.3f s: no motion of its own", sig.times[k])
                continue
            t_s, x, y, v_in = refine_impact(sig, k, weights)
            if v_in < min_step:
                log.debug("stop at %.3f s (%.2f, %.2f): too slow", sig.times[k], x, y)
                continue
            if passes_through(sig, k, weights, grid) or difference_moves_on(sig, k, x, y, grid):
                log.debug("stop at %.3f s (%.2f, %.2f): passes on", sig.times[k], x, y)
                continue
            vel = sig.vel[k - 1]
            wts = weights / max(float(weights.sum()), 1e-12)
            cen = centroid_onset(sig, k, weights, v_in)
            if cen is not None:
                onset = cen[0]
                if onset is None:
                    log.debug("stop at %.3f s (%.2f, %.2f): tracking loss", sig.times[k], x, y)
                    continue  # the picture keeps changing along the path: no stop
                t_s = CENTROID_WEIGHT * onset + (1.0 - CENTROID_WEIGHT) * t_s
            stop_s = t_s
            end = residual_end(sig, k, weights)
            if end is not None:
                t_s = max(t_s, end)
            vy = float((wts * vel[..., 1]).sum())
            vx = float((wts * vel[..., 0]).sum())
            region = float(weights.sum())
            ratio = region / max(float(np.median(score)), floor)
            candidates.append((region, {"kind": "impact", "time_s": t_s, "x": x, "y": y,
                          "intensity": float(np.clip(np.sqrt(v_in * fps / 2.0), 0.05, 1.0)),
                          "confidence": float(np.clip(1.0 - 1.0 / max(ratio, 1.0), 0.05, 0.99)),
                          "rising": -vy > 0.5 * abs(vx), "speed_wps": v_in * fps, "stop_s": stop_s,
                          "u": np.array([vx, vy]) / max(float(np.hypot(vx, vy)), 1e-12), "dt_s": dt}))
        if en is not None and en.shape[-1] > EN_RISE:
            rise = en[..., EN_RISE].astype(np.float64)
            for k, r, c in find_flashes(rise, sig.cell_energy, sig.times):
                if any(abs(a + k - c2) <= CUT_GUARD for c2 in guard_idx):
                    continue
                x, y = lit_centre(rise[k], rise[k, r, c])
                flashes.append({"kind": "impact", "time_s": float(sig.times[k]), "x": x, "y": y, "confidence": 0.5,
                                "intensity": float(np.clip(2.0 * en[k, r, c, EN_RISE], 0.1, 1.0)),
                                "extra": {"cue": "flash"}, "stop_s": float(sig.times[k]), "rising": False})
            for k, end, area in find_bursts(rise, sig.cell_energy, sig.times):
                if any(abs(a + k - c2) <= CUT_GUARD for c2 in guard_idx):
                    continue
                peak = float(np.where(area, rise[k], 0.0).max())
                x, y = lit_centre(np.where(area, rise[k], 0.0), peak)
                bursts.append({"kind": "impact", "time_s": float(sig.times[k]), "x": x, "y": y, "confidence": 0.5,
                               "intensity": float(np.clip(2.0 * peak, 0.1, 1.0)), "extra": {"cue": "burst"},
                               "stop_s": float(sig.times[k]), "rising": False,
                               "until_s": float(sig.times[end]), "area": area})
        still += [stop_event(sig, c, w, fps, grid) for c, w in difference_stops(sig, IMPACT_MIN_SPEED / fps, grid)
                  if not any(abs(a + c - 1 - cut) <= CUT_GUARD for cut in guard_idx)]
        blob_frames = arrays.get("blobs")
        if blob_frames is not None and len(blob_frames) == n:
            bounces += [e for e in blob_bounces(sig.times, blob_frames[a:b], grid) if not at_cut(e)]
        sil_frames = arrays.get("silhouettes")
        if sil_frames is not None and len(sil_frames) == n:
            cam = arrays.get("camera")
            cam = cam[a:b] if cam is not None and len(cam) == n else None
            whole += [e for e in silhouette_contacts(sig.times, sil_frames[a:b], cam) if not at_cut(e)]
        speed, pace, fastest = dominant_motion(sig, grid, aspect)
        speed, pace = speed * fps, pace * fps
        for start, dur, prof in find_whooshes(sig.times, speed, pace, aspect=aspect):
            i0 = int(np.searchsorted(sig.times, start))
            i1 = max(i0 + 1, int(np.searchsorted(sig.times, start + dur)))
            mags = sig.mag[i0:i1].sum(axis=0)
            tot = float(mags.sum())
            x = float((sig.cx[i0:i1].sum(axis=0) * mags).sum() / (tot * max(i1 - i0, 1))) if tot else 0.5
            span = np.arange(i0, min(i1 + 1, len(sig.times)))
            whooshes.append({"kind": "whoosh", "time_s": start, "duration_s": dur, "x": float(np.clip(x, 0, 1)),
                             "y": 0.5, "intensity": float(np.clip(speed[i0:i1].max() / (3 * WHOOSH_SPEED), 0.1, 1.0)),
                             "confidence": 0.6, "extra": {"speed_profile": [round(float(p), 4) for p in prof]},
                             "path": (sig.times[span], fastest[span],
                                      sig.vel[span, fastest[span, 0], fastest[span, 1]])})
        activity = float(sig.mag.sum(axis=(1, 2)).mean()) * fps if b > a else 0.0
        log.debug("shot %.3f-%.3f s: activity %.4f", s0, s1, activity)
        found.append({"kind": "ambience", "time_s": s0, "duration_s": s1 - s0, "x": 0.5, "y": 0.5,
                      "intensity": ambience_level(activity), "confidence": 1.0})
    if bursts:   # a burst's spreading light and smoke are no contacts, nor flashes of their own
        settle_bursts(bursts, flashes, grid, dt)
        candidates = [c for c in candidates if not in_burst(c[1], bursts, grid, dt)]
        flashes, bounces, whole, still = ([e for e in cue if not in_burst(e, bursts, grid, dt)]
                                          for cue in (flashes, bounces, whole, still))
        bursts = [{key: v for key, v in burst.items() if key not in ("until_s", "area")} for burst in bursts]
    hits = join_cues([e for _, e in mask_recoils(strong_enough_scored(candidates))], flashes + bursts, bounces,
                     whole, dt)
    # A difference stop the flow also found is that impact; the others are kept aside as candidate contacts
    # of small things the flow loses (feet): they become footsteps only where pose sees a foot plant there.
    still = [e for e in still if all(abs(e["stop_s"] - h["stop_s"]) > 1.5 * dt for h in hits)]
    end_at_strikes(whooshes, hits, grid, dt)
    lights = [light_event(arrays.get("energy"), times, k, grid) for k in light_idx]
    found += hits + flashes + bursts + lights + whooshes
    events = [to_event(e) for e in sorted(found, key=lambda e: (e["time_s"], e["kind"]))]
    for i, ev in enumerate(events, start=1):
        ev.id = i
    cuts = [float(times[c]) for c in cut_idx]
    return Detection(events=events, cuts=cuts, shots=shot_times, stops=[to_event(e) for e in still])


def join_cues(stops: list[dict], flashes: list[dict], bounces: list[dict], whole: list[dict],
              dt: float) -> list[dict]:
    """The contacts of the flow's stops, the difference blobs' bounces and the silhouettes' hinges (event
    dicts; ``dt`` the frame interval), one per contact; the flashes, which are events of their own, take
    the contacts they explain."""
    # A stop that another cue's contact follows shortly, far faster, is the flow losing a fast object on its
    # way there.
    stops = [h for h in stops if not any(lost_on_the_way(h, e, dt) for e in bounces + whole)]
    # A stop right after a flash near it is the same event (a gun's recoil after the muzzle flash).
    hits = [h for h in stops if not any(0.0 <= h["time_s"] - f["time_s"] <= FLASH_MERGE_S
                                        and np.hypot(h["x"] - f["x"], h["y"] - f["y"]) <= CONTACT_NEAR
                                        for f in flashes)]
    # A bounce of a difference blob adds a contact the flow lost; where a flash has one there and then, it is
    # the flash's; where the flow has one, it is that, placed at the blob: the middle of the object's places
    # in the frames around the contact, where the flow's place is the moving pixels' centre the frame before.
    added = []
    for e in bounces:
        same = [h for h in hits if same_contact(e, h, dt)]
        if same:
            nearest_in_time(same, e).update(x=e["x"], y=e["y"])
        elif not any(same_contact(e, f, dt) for f in flashes):
            added.append(e)
    hits += added
    # So does a silhouette's contact, where no other cue has one there and then. Where the flow or a blob has
    # it, the silhouette's hinge gives its moment: fitted to the whole object's path, it is the closer one; and
    # its place: the object itself there, where the flow's is the moving pixels' centre the frame before.
    for e in whole:
        if any(same_contact(e, f, dt) for f in flashes):
            continue
        same = [h for h in hits if same_contact(e, h, dt)]
        if same:
            nearest_in_time(same, e).update(time_s=e["time_s"], x=e["x"], y=e["y"])
        else:
            hits.append(e)
    return hits


def nearest_in_time(hits: list[dict], e: dict) -> dict:
    """The one of ``hits`` nearest in time to ``e``: the contact another cue's joins."""
    return min(hits, key=lambda h: abs(h["time_s"] - e["time_s"]))


def lost_on_the_way(stop: dict, e: dict, dt: float) -> bool:
    """Whether the flow's ``stop`` is where it lost a fast object that ``e`` (a difference blob's bounce or
    a silhouette's contact) shows arriving a little later: ``e`` comes 1.5 to LOST_INTERVALS frame intervals
    after it (sooner, they are :func:`same_contact`), within CONTACT_NEAR frame widths of it (the object
    travels on in those frames), at LOST_FASTER times the flow's approach speed or more. A ball falling
    faster than the flow can follow reads as a slow motion that stops in mid-air a frame or two before it
    lands."""
    if not 1.5 * dt < e["time_s"] - stop["time_s"] <= LOST_INTERVALS * dt:
        return False
    near = float(np.hypot(e["x"] - stop["x"], (e["y"] - stop["y"]) / ASPECT)) <= CONTACT_NEAR   # in widths
    return near and e.get("speed_wps", 0.0) >= LOST_FASTER * stop.get("speed_wps", np.inf)


def same_contact(e: dict, f: dict, dt: float) -> bool:
    """Whether two cues' contacts are one: within 1.5 frame intervals and CONTACT_NEAR of the frame. Two
    things that land together in different places are two contacts."""
    return (abs(e["time_s"] - f["time_s"]) <= 1.5 * dt
            and float(np.hypot(e["x"] - f["x"], e["y"] - f["y"])) <= CONTACT_NEAR)


def to_event(e: dict) -> Event:
    return Event(kind=e["kind"], time_s=e["time_s"], duration_s=e.get("duration_s", 0.0), confidence=e["confidence"],
                 x=e["x"], y=e["y"], intensity=e["intensity"], extra=dict(e.get("extra", {})))


# --------------------------------------------------------------------------- the detector

def analysis_stride(fps: float) -> int:
    """Every how many frames of a ``fps`` video the motion is analysed: every frame up to HIGH_FPS, above it
    every n-th, at ANALYSIS_FPS to 1.5 times that."""
    return max(1, int(fps // ANALYSIS_FPS)) if fps > HIGH_FPS else 1


def analysis_halves(fps: float) -> int:
    """2 where a ``fps`` video is also analysed from its even and from its odd frames (HALVES_FPS to
    HIGH_FPS: 48-60 fps), else 1."""
    return 2 if HALVES_FPS <= fps <= HIGH_FPS else 1


def vote_halves(whole: Detection, halves: list[Detection], dt: float) -> Detection:
    """The contacts two of three analyses agree on: ``whole`` of every frame (``dt`` apart), ``halves`` of the
    even and of the odd frames. Pure.

    At 60 fps a slow bounce moves half as far an interval as at 30 fps, within the flow's jitter, and every
    frame's analysis misses it; each half sees it as 30 fps video would, but times it to its own coarser
    intervals, and a shaking camera gives each half stops of its own. So: an impact of every frame is kept
    where a half has one within HALF_NEAR frames (its time: every frame's, the finer); one the two halves
    agree on (within HALF_PAIR frames) where every frame has none within HALF_NEAR is added, at the mean of
    their times and places (``extra["halves"]``, in the event's JSON). Other events (whooshes, ambience),
    cuts, shots and stops are ``whole``'s."""
    def contacts(det: Detection) -> list[Event]:
        return [e for e in det.events if e.kind == "impact"]

    near, pair = HALF_NEAR * dt + 1e-9, HALF_PAIR * dt + 1e-9
    seen = [e.time_s for h in halves for e in contacts(h)]
    mine = contacts(whole)
    events = [e for e in whole.events if e.kind != "impact" or any(abs(t - e.time_s) <= near for t in seen)]
    if len(halves) == 2:
        a_events, b_events = contacts(halves[0]), contacts(halves[1])
        for i, j in match_indices([e.time_s for e in a_events], [e.time_s for e in b_events], pair):
            a, b = a_events[i], b_events[j]
            t = (a.time_s + b.time_s) / 2.0
            if not any(abs(e.time_s - t) <= near for e in mine):
                events.append(replace(a, time_s=t, x=(a.x + b.x) / 2.0, y=(a.y + b.y) / 2.0,
                                      intensity=max(a.intensity, b.intensity), extra={**a.extra, "halves": True}))
    events.sort(key=lambda e: (e.time_s, e.kind))
    for i, ev in enumerate(events, start=1):
        ev.id = i
    return Detection(events=events, cuts=list(whole.cuts), shots=list(whole.shots), stops=list(whole.stops))


class Looks:
    """The gray frames the decoding pass keeps every PRESENCE_S seconds for pose's presence looks, and pose
    run on them in the background as they come.

    Pose is wanted only at looks near a contact, which are known after detection; a look of a stretch in
    which something moved is posed at once on a thread of its own, on the core the decoder leaves idle, so
    that after detection presence mostly reads results instead of running pose then. Which looks are posed
    early changes no result: :meth:`feet` poses any other look it is asked for. At most MAX_LOOKS are kept:
    past that, every second one is dropped (its pending pose cancelled) and the spacing doubles."""

    def __init__(self, detector: EventDetector):
        self.frames: list[tuple[float, np.ndarray]] = []
        self._detector = detector
        self._feet: dict[float, Future] = {}
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="foley-pose")   # its thread starts with a pose

    def add(self, t: float, gray: np.ndarray, moved: bool) -> bool:
        """Keep the look ``gray`` at ``t`` (posed at once if ``moved``); True when the list was thinned out."""
        self.frames.append((t, gray))
        if moved:
            self._feet[t] = self._pool.submit(self._detector.feet_in_gray, gray)
        if len(self.frames) < MAX_LOOKS:
            return False
        for t_gone, _ in self.frames[1::2]:
            pending = self._feet.pop(t_gone, None)
            if pending is not None:
                pending.cancel()
        del self.frames[1::2]
        return True

    def feet(self, t: float, gray: np.ndarray) -> np.ndarray | None:
        """(2, 2) feet in the look at ``t`` (NaN where unseen); None without pose."""
        pending = self._feet.pop(t, None)
        if pending is not None and not pending.cancelled():
            return pending.result()
        return self._detector.feet_in_gray(gray)

    def close(self) -> None:
        """Cancel the poses not started and wait for the one running (a pose of a frame, 15-30 ms), so that no
        pose outlives its detection."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._feet.clear()


class EventDetector:
    """Decodes a range of a video to small gray frames, extracts motion features and detects events."""

    def __init__(self, precision: str = "normal"):
        if precision not in WIDTHS:
            raise InputError(f"precision {precision!r} is not one of: {', '.join(WIDTHS)}")
        self.precision = precision
        self.width = WIDTHS[precision]
        self._pose: PoseModel | None | bool = False   # False: not loaded yet; None: mediapipe missing
        self._pose_lock = threading.Lock()

    def fresh(self) -> EventDetector:
        """A detector with the same settings and no models loaded (for a forked process: the threads of
        a model loaded before the fork do not exist in the child)."""
        return EventDetector(self.precision)

    def pose(self) -> PoseModel | None:
        with self._pose_lock:  # the looks' pose thread and the detecting one may both ask first
            if self._pose is False:
                self._pose = load_pose()
            return cast("PoseModel | None", self._pose)

    def feet_in_gray(self, gray: np.ndarray) -> np.ndarray | None:
        """Pose's (2, 2) feet in one gray frame (NaN where unseen); None without pose."""
        pose = self.pose()
        if pose is None:
            return None
        return pose.feet_in(np.repeat(gray[..., None], 3, axis=2))

    def footsteps(self, info, start_s: float, end_s: float, det: Detection,
                  feet_seen: list[tuple[float, np.ndarray]]) -> None:
        """Turn into footsteps the contacts of ``det`` (impacts, and the difference stops kept aside) where
        pose sees a foot plant. Only contacts near a foot that the sparse presence looks saw
        (``feet_seen``; :func:`models.footsteps.near_seen_foot`) are checked, with a few colour frames around
        each (the foot moved before and rests after), all decoded in one pass. Changes ``det.events`` in
        place."""
        from models.footsteps import foot_near, near_seen_foot, plant_times, planted
        from models.pose import WIDTH
        from models.stills import rgb_frames

        if not feet_seen:
            return
        pose = self.pose()
        if pose is None:
            return
        cands = [e for e in det.events + det.stops if e.kind == "impact" and e.extra.get("cue") not in LIGHT_CUES
                 and near_seen_foot(feet_seen, e.time_s, e.x, e.y)]
        if not cands:
            return
        want = [[t for t in plant_times(e.time_s, info.fps) if start_s <= t < end_s] for e in cands]
        frames = rgb_frames(info, sorted({t for ts in want for t in ts}), width=WIDTH)
        by_frame = {round(t * info.fps): (t, f) for t, f in frames}
        steps = []
        for e, ts in zip(cands, want):
            mine = [by_frame[k] for k in sorted({round(t * info.fps) for t in ts}) if k in by_frame]
            at = [f for t, f in mine if t >= e.time_s - 0.5 / info.fps]
            if not at or not foot_near(pose.feet_in(at[0]), e.x, e.y):
                continue   # one look at the contact first: pose on the frames around it only for a foot there
            if planted(pose.feet(mine), e.time_s, e.x, e.y):
                steps.append(e)
        if not steps:
            return
        for e in steps:
            e.kind = "footstep"
        added = [e for e in det.stops if e.kind == "footstep"]
        det.stops = [e for e in det.stops if e.kind != "footstep"]
        det.events = sorted(det.events + added, key=lambda e: (e.time_s, e.kind))
        for i, ev in enumerate(det.events, start=1):
            ev.id = i
        log.info("%s: %d footsteps confirmed by pose", info.path, len(steps))

    def features(self, info, start_s: float, end_s: float, progress: Callable[[float], None] | None = None,
                 cancel: threading.Event | None = None, looks: Looks | None = None) -> MotionFeatures:
        """Motion features of the range, of every frame or, in high-speed video, of every n-th
        (:func:`analysis_stride`; the features' ``fps`` is the rate analysed); at 48-60 fps also of the even
        and of the odd frames (``halves``, :func:`analysis_halves`). With ``looks``, the gray frame
        already decoded is also kept every PRESENCE_S seconds for pose to look at (:class:`Looks`,
        :meth:`presence`); a look is posed at once when something moved since the one before."""
        from models.footsteps import PRESENCE_S
        from models.video import iter_gray_frames

        if not 0.0 <= start_s < end_s:
            raise InputError(f"range {start_s:.3f}-{end_s:.3f} s is empty or negative; give start < end")
        analyzer = MotionAnalyzer(self.precision)
        stride = analysis_stride(info.fps)
        feats = MotionFeatures(info.fps / stride)
        halves = analysis_halves(info.fps)
        half_analyzers = [MotionAnalyzer(self.precision) for _ in range(halves)] if halves > 1 else []
        feats.halves = [MotionFeatures(info.fps / halves) for _ in half_analyzers]
        span = end_s - start_s
        every = max(1, int(round(info.fps / 4)))
        look = max(1, int(round(info.fps * PRESENCE_S)))
        moved = False

        def wanted(i: int) -> bool:   # frames neither analysed nor looked at are not scaled to gray
            return i % stride == 0 or bool(half_analyzers) or (looks is not None and i % look == look // 2)

        for i, (t, gray) in enumerate(iter_gray_frames(info, start_s, end_s, width=self.width, wanted=wanted)):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"detection of {info.path!r} cancelled at {t:.2f} s")
            if progress is not None and i % every == 0:
                progress(float(np.clip((t - start_s) / span, 0.0, 1.0)))
            if gray is None:
                continue
            if i % stride == 0:
                stats = analyzer.step(gray)
                if not feats.times:
                    feats.aspect = gray.shape[1] / max(gray.shape[0], 1)
                feats.append(t, stats)
                moved = moved or float(stats.energy[..., EN_MEAN].max()) > STILL_MIN
            if half_analyzers:
                feats.halves[i % halves].append(t, half_analyzers[i % halves].step(gray))
            if looks is not None and i % look == look // 2:
                if looks.add(float(t), gray, moved):
                    look *= 2
                moved = False
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"detection of {info.path!r} cancelled")
        for half in feats.halves:
            half.aspect = feats.aspect
        return feats

    def presence(self, det: Detection, looks: Looks) -> list[tuple[float, np.ndarray]]:
        """(time, (2, 2) feet) of the kept frames where pose sees a foot, among the frames within PRESENCE_S
        of a contact (an impact or a difference stop) that could be a footstep. A range in which nothing
        moved, or without such contacts, never loads mediapipe (its import and set-up cost about a
        second)."""
        from models.footsteps import PRESENCE_S

        contacts = [e.time_s for e in det.events + det.stops
                    if e.kind == "impact" and e.extra.get("cue") not in LIGHT_CUES]
        seen = []
        for t, gray in looks.frames:
            if not any(abs(t - c) <= PRESENCE_S for c in contacts):
                continue
            feet = looks.feet(t, gray)
            if feet is None:
                return []   # no pose
            if not np.isnan(feet[:, 0]).all():
                seen.append((t, feet))
        return seen

    def detect(self, info, start_s: float, end_s: float, progress: Callable[[float], None] | None = None,
               cancel: threading.Event | None = None) -> Detection:
        looks = Looks(self)
        try:
            feats = self.features(info, start_s, end_s, progress, cancel, looks=looks)
            if len(feats) == 0:
                raise InputError(f"{info.path!r} has no frames between {start_s:.3f} and {end_s:.3f} s")
            det = detect_events(feats.arrays(), feats.fps)
            if feats.halves:
                det = vote_halves(det, [detect_events(h.arrays(), h.fps) for h in feats.halves], 1.0 / feats.fps)
            self.footsteps(info, start_s, end_s, det, self.presence(det, looks))
        finally:
            looks.close()
        log.info("%s: %d events, %d cuts in %d frames", info.path, len(det.events), len(det.cuts), len(feats))
        if progress is not None:
            progress(1.0)
        return det
