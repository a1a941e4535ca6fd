"""Event detection on rendered videos with known impact frames, and on real footage when it is present."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from bridge.errors import Cancelled, InputError
from bridge.event import Event
from models.detect import (
    EventDetector,
    Signals,
    centroid_onset,
    contact_fraction,
    detect_events,
    difference_moves_on,
    dominant_motion,
    drop_repeats,
    end_at_strikes,
    find_bursts,
    find_cuts,
    find_whooshes,
    join_cues,
    lit_centre,
    mask_recoils,
    picture_cuts,
    repeated_frames,
    residual_end,
    shifted,
    strong_enough,
    vote_halves,
)
from models.motion import (
    CELL_VX,
    EN_MEAN,
    EN_X,
    EN_Y,
    GRID,
    N_ENERGY_CHANNELS,
    MotionAnalyzer,
    MotionFeatures,
    diff_energy,
    structure_kept,
)
from models.video import probe
from videos import MEDIA, Mover, drop, make_demo_video, scene

FPS = 30.0


def impacts(det):
    return [e for e in det.events if e.kind in ("impact", "footstep")]


def nearest(events, t):
    return min(events, key=lambda e: abs(e.time_s - t))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.mp4"
    truth = make_demo_video(path)
    return truth, EventDetector().detect(probe(str(path)), 0.0, 6.0)


def test_demo_every_impact_within_one_frame(demo):
    truth, det = demo
    found = impacts(det)
    assert len(truth.impacts) == 6
    for t, x, _ in truth.impacts:
        e = nearest(found, t)
        assert abs(e.time_s - t) <= 1.0 / FPS, (t, e.time_s)
        assert abs(e.x - x) < 0.15, (t, x, e.x)


def test_demo_few_false_impacts(demo):
    """Precision, not just recall: tracking dropouts on fast objects and the swipe give few extra impacts."""
    truth, det = demo
    found = sorted(e.time_s for e in impacts(det))
    extra = [t for t in found if min(abs(t - s) for s in truth.impact_times) > 1.0 / FPS]
    assert len(found) >= len(truth.impacts)
    assert len(extra) <= 3, extra


def test_steady_motion_gives_no_impact(tmp_path):
    """A ball crossing at constant speed, and one resting, make no impact (no stop, no reversal)."""
    movers = [Mover([(0.3, 0.15, 0.4), (2.2, 0.85, 0.4)], seed=11), Mover([(0.0, 0.5, 0.8)], seed=12)]
    scene(tmp_path / "steady.mp4", movers, seconds=2.5)
    det = EventDetector().detect(probe(str(tmp_path / "steady.mp4")), 0.0, 2.5)
    assert len([e for e in impacts(det) if 0.4 < e.time_s < 2.1]) == 0


def test_demo_cut_is_a_shot_boundary_not_an_impact(demo):
    truth, det = demo
    assert len(det.cuts) == 1 and abs(det.cuts[0] - truth.cuts[0]) <= 1.0 / FPS
    assert not [e for e in impacts(det) if abs(e.time_s - truth.cuts[0]) <= 2.0 / FPS]
    assert len(det.shots) == 2
    amb = [e for e in det.events if e.kind == "ambience"]
    assert len(amb) == 2
    assert [round(e.time_s, 3) for e in amb] == [round(s, 3) for s, _ in det.shots]
    assert all(e.duration_s > 1.0 for e in amb)


def test_demo_swipe_is_a_whoosh_with_a_speed_profile(demo):
    truth, det = demo
    start, end = truth.swipes[0]
    whooshes = [e for e in det.events if e.kind == "whoosh"]
    assert len(whooshes) == 1
    w = whooshes[0]
    assert abs(w.time_s - start) < 0.15 and abs(w.time_s + w.duration_s - end) < 0.2
    prof = w.extra["speed_profile"]
    assert 16 <= len(prof) <= 64 and max(prof) == pytest.approx(1.0) and min(prof) >= 0.0


def test_events_sorted_with_ids_from_one(demo):
    _, det = demo
    times = [e.time_s for e in det.events]
    assert times == sorted(times)
    assert [e.id for e in det.events] == list(range(1, len(det.events) + 1))
    assert all(0.0 <= e.x <= 1.0 and 0.0 <= e.y <= 1.0 and 0.0 < e.intensity <= 1.0 for e in det.events)


def test_left_and_right_impacts_at_different_speeds(tmp_path):
    movers = [Mover(drop(0.2, 0.0, 1.0), seed=5), Mover(drop(0.8, 1.1, 1.9, y0=0.5), seed=6)]
    truth = scene(tmp_path / "lr.mp4", movers, seconds=3.5)
    det = EventDetector().detect(probe(str(tmp_path / "lr.mp4")), 0.0, 3.5)
    found = impacts(det)
    landings = [i for i in truth.impacts if i[0] in (1.0, 1.9)]  # each object's first, hard landing
    assert len(landings) == 2
    for t, x, _ in landings:
        e = nearest(found, t)
        assert abs(e.time_s - t) <= 1.0 / FPS
        assert (e.x < 0.5) == (x < 0.5)
    fast, slow = nearest(found, 1.0), nearest(found, 1.9)
    assert fast.intensity > slow.intensity


def test_range_detection_uses_media_time(tmp_path):
    truth = scene(tmp_path / "r.mp4", [Mover(drop(0.5, 0.9, 1.6), seed=7)], seconds=3.0)
    det = EventDetector().detect(probe(str(tmp_path / "r.mp4")), 1.0, 3.0)
    assert det.shots[0][0] == pytest.approx(1.0, abs=1 / FPS)
    assert truth.impact_times[0] == pytest.approx(1.6)
    e = nearest(impacts(det), 1.6)
    assert abs(e.time_s - 1.6) <= 1.0 / FPS


def test_1080p_video(tmp_path):
    truth = scene(tmp_path / "hd.mp4", [Mover(drop(0.3, 0.0, 0.5), seed=8)], seconds=1.0, width=1920, height=1080)
    info = probe(str(tmp_path / "hd.mp4"))
    assert (info.width, info.height) == (1920, 1080)
    e = nearest(impacts(EventDetector().detect(info, 0.0, 1.0)), 0.5)
    assert abs(e.time_s - truth.impacts[0][0]) <= 1.0 / FPS and e.x < 0.5


def test_high_precision_also_within_one_frame(tmp_path):
    truth = scene(tmp_path / "h.mp4", [Mover(drop(0.6, 0.1, 1.0), seed=9)], seconds=1.5, codec="mpeg4")
    det = EventDetector("high").detect(probe(str(tmp_path / "h.mp4")), 0.0, 1.5)
    for t, _, _ in truth.impacts:
        assert abs(nearest(impacts(det), t).time_s - t) <= 1.0 / FPS


def test_cancel_and_progress(tmp_path):
    scene(tmp_path / "c.mp4", [Mover(drop(0.5, 0.1, 0.8))], seconds=2.0)
    info = probe(str(tmp_path / "c.mp4"))
    seen: list[float] = []
    cancel = threading.Event()

    def progress(f: float) -> None:
        seen.append(f)
        if f > 0.3:
            cancel.set()

    with pytest.raises(Cancelled):
        EventDetector().detect(info, 0.0, 2.0, progress=progress, cancel=cancel)
    assert seen and max(seen) < 0.9
    done: list[float] = []
    EventDetector().detect(info, 0.0, 2.0, progress=done.append)
    assert done[-1] == 1.0 and done == sorted(done)


def test_bad_precision_and_range(tmp_path):
    with pytest.raises(InputError, match="precision"):
        EventDetector("ultra")
    scene(tmp_path / "b.mp4", [Mover(drop(0.5, 0.1, 0.5))], seconds=1.0)
    with pytest.raises(InputError, match="range"):
        EventDetector().detect(probe(str(tmp_path / "b.mp4")), 0.8, 0.2)


def test_feature_memory_is_small_per_frame():
    rng = np.random.default_rng(0)
    analyzer, feats = MotionAnalyzer(), MotionFeatures(30.0)
    base = rng.integers(0, 255, (144, 256), dtype=np.uint8)
    for i in range(60):
        feats.append(i / 30, analyzer.step(np.roll(base, i, axis=1)))
    per_frame = feats.nbytes() / len(feats)
    assert per_frame < 2048  # about 200 floats a frame, never the frames themselves
    arrays = feats.arrays()
    assert arrays["cells"].shape[0] == 60
    # A 1-px-per-frame pan of a random texture is camera motion: removed, so nothing moves.
    assert float(np.abs(arrays["camera"][1:, 0] - 1 / 256).max()) < 0.2 / 256


def test_structure_kept_tells_another_light_from_another_picture():
    rng = np.random.default_rng(4)
    a = rng.integers(40, 160, size=(72, 128)).astype(np.uint8)
    b = rng.integers(40, 160, size=(72, 128)).astype(np.uint8)
    yy, xx = np.mgrid[:72, :128]
    pool = 1.0 + 0.9 * np.exp(-(((xx - 30) / 30.0) ** 2 + ((yy - 40) / 25.0) ** 2))   # a lamp's pool of light
    lit = np.clip(a * pool + 10, 0, 255).astype(np.uint8)
    assert structure_kept(a, lit) > 0.95
    assert structure_kept(a, (a * 0.4).astype(np.uint8)) > 0.95                    # switched off
    assert abs(structure_kept(a, b)) < 0.3                                         # a cut
    assert np.isnan(structure_kept(np.zeros_like(a), a))                            # from black


def test_a_burst_grows_from_inside_the_frame():
    """A light that appears out of a still picture and spreads a cell an interval (a fireball) is a burst that
    lives while its area changes; the same growth from the frame's border is a bright thing coming in, and a
    light that stays in its cell is no burst (a flash, if it fades)."""
    n, k = 40, 10
    times = np.arange(n) / 25.0
    rise, energy = np.zeros((n, 4, 8)), np.zeros((n, 4, 8))
    rise[k, 1, 3] = 0.7
    energy[k, 1, 3] = 0.1
    for j, cells in ((k + 1, [(1, 4), (2, 3)]), (k + 2, [(2, 4), (1, 2)])):
        for r, c in cells:
            rise[j, r, c] = 0.5
            energy[j, r, c] = 0.08
    energy[k + 1:k + 20, 1:3, 2:5] = np.maximum(energy[k + 1:k + 20, 1:3, 2:5], 0.02)   # smoke boiling on
    (start, end, area), = find_bursts(rise, energy, times)
    assert start == k and k + 20 <= end <= k + 22
    assert area[1, 3] and area[2, 4] and not area[3, 7]
    assert find_bursts(np.roll(rise, -3, axis=2), np.roll(energy, -3, axis=2), times) == []   # from the border
    still = rise.copy()
    still[k + 1:] = 0.0
    assert find_bursts(still, energy, times) == []


def test_a_flash_is_placed_where_it_lights():
    rise = np.zeros((4, 8))
    rise[1, 6] = 0.8
    rise[1, 5] = 0.2    # a little of it spills next door
    assert lit_centre(rise, 0.8) == pytest.approx((6.5 / 8, 1.5 / 4))
    rise[:] = 0.6
    rise[3, 0] = 0.65   # lightning: the whole frame; one corner a little more
    x, y = lit_centre(rise, 0.65)
    assert abs(x - 0.5) < 0.01 and abs(y - 0.5) < 0.01


def test_pure_helpers():
    assert contact_fraction(1.0, 0.25, 0.0) == pytest.approx(0.25)
    assert contact_fraction(1.0, 0.0, 1.0) == pytest.approx(0.5)
    hist = np.array([0, 0.01, 0.02, 0.6, 0.01, 0.02, 0.3, 0.28, 0.25], np.float32)
    assert find_cuts(hist, np.zeros_like(hist)) == [3]
    same = np.ones_like(hist)
    assert find_cuts(hist, np.zeros_like(hist), same) == []             # the same picture in another light
    same[3] = 0.1
    assert find_cuts(hist, np.zeros_like(hist), same) == [3]            # another picture
    same[3] = np.nan
    assert find_cuts(hist, np.zeros_like(hist), same) == [3]            # nothing to compare (black): a cut
    flat = np.full_like(hist, 0.01)
    same = np.full_like(hist, 0.95)
    same[5] = 0.3                                                       # the picture alone changes at once
    assert picture_cuts(same) == [5] and find_cuts(flat, flat, same) == [5]
    same[6] = 0.6                                                       # and keeps changing: a swipe
    assert picture_cuts(same) == []
    t = np.arange(40) / 30
    speed = np.zeros(40)
    speed[10:20] = 2.0
    (start, dur, prof), = find_whooshes(t, speed)
    assert start == pytest.approx(t[9]) and dur == pytest.approx(t[20] - t[9])
    v = np.arange(4.0)
    assert shifted(v, -1).tolist() == [0, 0, 1, 2] and shifted(v, 2).tolist() == [2, 3, 0, 0]
    kept = strong_enough([(1.0, {"t": 1}), (0.05, {"t": 2}), (0.5, {"t": 3})], rel=0.2)
    assert [e["t"] for e in kept] == [1, 3]
    empty = detect_events(MotionFeatures(30.0).arrays(), 30.0)
    assert empty.events == [] and empty.shots == []


def test_a_whoosh_is_a_swing_or_a_pass_not_a_hand_at_work():
    """Fast for the frame is not enough: a stroke of a tenth of the frame by something large (a hand
    chopping in a close-up, four of its sizes a second) is no whoosh; the same stroke by something small
    enough to move ten of its sizes a second (a swung stick) is one, and so is something large that
    travels on across most of the frame (a pass-by)."""
    t = np.arange(60) / 30
    speed = np.zeros(60)
    speed[10:14] = 1.5                                # 4 intervals at 1.5 widths/s: 0.2 widths
    assert find_whooshes(t, speed, np.where(speed > 0, 4.0, 0.0)) == []
    assert len(find_whooshes(t, speed, np.where(speed > 0, 10.0, 0.0))) == 1
    speed[10:30] = 1.5                                # 20 intervals: 1 width
    assert len(find_whooshes(t, speed, np.where(speed > 0, 4.0, 0.0))) == 1
    # The pace is the speed in sizes of the moving area: the same speed, a ninth of the area, three
    # times the pace.
    vel = np.zeros((2, 4, 8, 2))
    vel[:, 1, 2] = (0.05, 0.0)
    big = np.zeros((2, 4, 8))
    big[:, 1, 2] = 9.0
    small = big / 9.0
    speeds, paces, cells = zip(*(dominant_motion(Signals(times=t[:2], vel=vel, area=a, mag=a, cx=a, cy=a),
                                                 (4, 8)) for a in (big, small)))
    assert speeds[0][1] == speeds[1][1] == pytest.approx(0.05)
    assert paces[1][1] == pytest.approx(3.0 * paces[0][1])
    assert paces[0][1] == pytest.approx(0.05 / np.sqrt(9.0 / 8 * 9 / 64))
    assert cells[0][1].tolist() == [1, 2]


def test_a_whoosh_is_measured_in_the_pictures_own_shape(tmp_path):
    """A portrait picture's width is its short side: a ball that falls 0.4 of its height travels 0.7 of
    its width, and the grid's cells are three times the area they are on a 16:9 picture. The fall is no
    pass-by there (it crosses 0.4 of the long side at 4 of its sizes a second); a bar crossing 0.7 of a
    landscape picture's width is one. The features carry the picture's shape."""
    t = np.arange(60) / 30
    speed = np.zeros(60)
    speed[10:24] = 1.5                                # 0.7 widths in 14 intervals
    pace = np.where(speed > 0, 4.0, 0.0)
    assert len(find_whooshes(t, speed, pace)) == 1
    assert find_whooshes(t, speed, pace, aspect=9 / 16) == []
    vel = np.zeros((2, 4, 8, 2))
    vel[:, 1, 2] = (0.05, 0.0)
    area = np.zeros((2, 4, 8))
    area[:, 1, 2] = 9.0
    sig = Signals(times=t[:2], vel=vel, area=area, mag=area, cx=area, cy=area)
    wide, tall = dominant_motion(sig, (4, 8))[1][1], dominant_motion(sig, (4, 8), aspect=9 / 16)[1][1]
    assert tall == pytest.approx(wide * 9 / 16)       # each cell 16/9 times as tall, its size sqrt of that
    scene(tmp_path / "tall.mp4", [Mover(keys=drop(0.5, 0.2, 0.7))], seconds=1.0, width=270, height=480)
    feats = EventDetector().features(probe(str(tmp_path / "tall.mp4")), 0.0, 1.0)
    assert feats.arrays()["aspect"] == pytest.approx(270 / 480, abs=0.01)


def test_a_whoosh_ends_at_the_blow_it_strikes_not_at_a_contact_elsewhere():
    """A hammer's swing goes on through its blow into the rebound: its whoosh ends at the blow, a stop
    where the swing's own fastest motion is, approaching the way it went, after which it turns back. A ball
    landing on the other side of the frame during a swipe, or falling onto the floor where the swipe passes
    on over it, leaves the swipe's whoosh whole."""
    def whoosh(rebound: bool = True):
        t = np.arange(1, 13) / 30.0 + 0.5                       # 12 intervals from 0.533 s
        where = np.array([[1, c] for c in range(12)]).clip(0, 7)
        vel = np.tile([0.04, 0.0], (12, 1))                     # rightwards
        if rebound:
            vel[6:] *= -1.0                                      # back from the blow at 0.7 s
        return {"kind": "whoosh", "time_s": 0.5, "duration_s": 0.4, "extra": {"speed_profile": list(np.ones(32))},
                "path": (t, where, vel)}

    blow = {"kind": "impact", "time_s": 0.7, "x": 0.65, "y": 0.3, "u": np.array([1.0, 0.0])}
    elsewhere = dict(blow, x=0.1, y=0.9)
    landing = dict(blow, u=np.array([0.0, 1.0]))                 # a ball falling where the swing is
    too_soon = dict(blow, time_s=0.55, x=0.1)
    struck, passing, landed, over = whoosh(), whoosh(), whoosh(), whoosh(rebound=False)
    end_at_strikes([struck], [elsewhere, blow], (4, 8), 1 / 30)
    end_at_strikes([passing], [elsewhere, too_soon], (4, 8), 1 / 30)
    end_at_strikes([landed], [landing], (4, 8), 1 / 30)
    end_at_strikes([over], [blow], (4, 8), 1 / 30)               # the motion goes on over the stop
    assert struck["duration_s"] == pytest.approx(0.2) and "path" not in struck
    assert len(struck["extra"]["speed_profile"]) == 32 and max(struck["extra"]["speed_profile"]) == 1.0
    for w in (passing, landed, over):
        assert w["duration_s"] == pytest.approx(0.4)


def test_repeated_frames_are_found_and_dropped():
    """A frame shown twice (frame-rate conversion) is no stop: the repeats are dropped, so each interval
    left is one source interval with its whole motion."""
    diff = np.array([0.0, 0.02, 0.021, 0.0002, 0.04, 0.02, 0.0, 0.0, 0.0])
    assert repeated_frames(diff) == [3]  # the still frames at the end are a still scene, not repeats
    # a 25 -> 30 fps conversion: every 6th frame repeats; constant motion otherwise
    n = 30
    times = np.arange(n) / 30.0
    diff = np.full(n, 0.03)
    diff[[5, 11, 17, 23]] = 0.0
    cells = np.zeros((n, *GRID, 6), np.float32)
    cells[..., CELL_VX] = 8.0
    cells[[5, 11, 17, 23], ..., CELL_VX] = 0.0
    arrays = {"times": times, "diff": diff, "cells": cells, "fps": 30.0}
    out = drop_repeats(arrays)
    assert len(out["times"]) == n - 4 and 5 / 30.0 not in out["times"] and 6 / 30.0 in out["times"]
    assert (out["cells"][1:, 0, 0, CELL_VX] == 8.0).all()  # no interval of the motion looks slowed
    assert out["fps"] == 30.0 and len(arrays["times"]) == n  # other entries and the input untouched
    assert drop_repeats({"times": times[:0], "diff": diff[:0]})["times"].size == 0


def test_recoils_after_a_strong_strike_are_masked():
    c = [(1.0, {"time_s": 1.0}), (0.3, {"time_s": 1.3}), (0.3, {"time_s": 1.6}), (0.6, {"time_s": 1.2}),
         (0.2, {"time_s": 0.9})]
    kept = [e["time_s"] for _, e in mask_recoils(c, window_s=0.4, ratio=2.5)]
    assert kept == [1.0, 1.6, 1.2, 0.9]  # 1.3 recoils from 1.0; 1.2 is strong enough; 0.9 comes before


def test_frame_difference_energy_and_centroid():
    prev = np.zeros((144, 256), np.uint8)
    cur = prev.copy()
    cur[36:54, 160:192] = 200  # a block appears in row 1 (of 4), columns 5 (of 8)
    en = diff_energy(np.abs(cur.astype(int) - prev).astype(np.uint8))
    assert en.shape == (*GRID, N_ENERGY_CHANNELS)
    r, c = np.unravel_index(np.argmax(en[..., EN_MEAN]), GRID)
    assert (r, c) == (1, 5)
    assert en[..., EN_MEAN].sum() > 0 and np.count_nonzero(en[..., EN_MEAN] > 1e-6) == 1
    x = en[r, c, EN_X] / en[r, c, EN_MEAN]
    y = en[r, c, EN_Y] / en[r, c, EN_MEAN]
    assert x == pytest.approx(176 / 256, abs=0.01) and y == pytest.approx(45 / 256, abs=0.01)  # y in widths
    assert not diff_energy(np.full((144, 256), 2, np.uint8)).any()  # coding noise is no motion


def centroid_signals(positions: list[float]) -> Signals:
    """Signals of one object moving along x through one cell: the difference of interval j lies halfway
    between its positions at frames j-1 and j."""
    n = len(positions)
    energy = np.zeros((n, *GRID))
    moments = np.zeros((n, *GRID, 2))
    for j in range(1, n):
        energy[j, 2, 4] = 1.0
        moments[j, 2, 4] = (0.5 * (positions[j - 1] + positions[j]), 0.3)
    z = np.zeros((n, *GRID))
    return Signals(times=np.arange(n) / 30.0, vel=np.zeros((n, *GRID, 2)), area=z, mag=z, cx=z, cy=z,
                   energy=energy, moments=moments)


@pytest.mark.parametrize("rebound", [0.0, 0.5])
def test_centroid_onset_recovers_the_contact_inside_the_interval(rebound):
    v, a = 0.02, 0.3
    pos = [v * j for j in range(7)]                          # approach up to frame 6
    pos.append(pos[6] + a * v - (1 - a) * rebound * v)       # contact 0.3 into the interval, then back
    while len(pos) < 14:
        pos.append(pos[-1] - rebound * v)
    weights = np.zeros(GRID)
    weights[2, 4] = 1.0
    onset, speed = centroid_onset(centroid_signals(pos), 7, weights, v_flow=0.0)
    assert onset == pytest.approx((6 + a) / 30.0, abs=1e-6)
    assert speed == pytest.approx(v)


def test_centroid_that_keeps_moving_is_no_stop():
    weights = np.zeros(GRID)
    weights[2, 4] = 1.0
    onset, speed = centroid_onset(centroid_signals([0.02 * j for j in range(14)]), 7, weights, v_flow=0.01)
    assert onset is None and speed == pytest.approx(0.02)
    # ... and a centroid far slower than the flow's approach is something else: no opinion.
    assert centroid_onset(centroid_signals([0.002 * j for j in range(14)]), 7, weights, v_flow=0.02) is None


def difference_path(path: list[tuple[float, float, float]]) -> Signals:
    """Signals whose unpooled frame difference is a blob (Gaussian, 0.6 cells wide) at the (column, row,
    mass) of each interval in ``path``, from interval 1 on."""
    n = len(path) + 1
    rr, cc = np.mgrid[0:GRID[0], 0:GRID[1]]
    cell_energy = np.zeros((n, *GRID))
    for j, (c, r, m) in enumerate(path, start=1):
        blob = np.exp(-((cc - c) ** 2 + (rr - r) ** 2) / (2 * 0.6 ** 2))
        cell_energy[j] = m * blob / blob.sum()
    z = np.zeros((n, *GRID))
    return Signals(times=np.arange(n) / 25.0, vel=np.zeros((n, *GRID, 2)), area=z, mag=z, cx=z, cy=z,
                   cell_energy=cell_energy)


def test_a_blade_sweeping_an_arc_moves_on_and_a_stop_or_a_bounce_does_not():
    """A wiper's blade turns about its pivot: the difference it leaves sweeps an arc, 1.2 cells an interval
    turning 40 degrees each time, and thins as the blade slows toward the end of its stroke. The flow loses
    the thin blade and reads a stop at interval 4; the difference shows it went on. The same approach that
    stops (the difference fades where it is) or bounces (it comes back) is a stop."""
    def arc(masses: list[float]) -> list[tuple[float, float, float]]:
        out, c, r, ang = [], 1.0, 0.6, np.radians(10.0)
        for m in masses:
            out.append((c, r, m))
            c, r, ang = c + 1.2 * np.cos(ang), r + 1.2 * np.sin(ang) * 0.5, ang + np.radians(40.0)
        return out

    def at(path: list[tuple[float, float, float]], j: int) -> tuple[float, float]:
        c, r, _ = path[j - 1]   # interval j's blob, as a position on the frame
        return (c + 0.5) / GRID[1], (r + 0.5) / GRID[0]

    swept = arc([1.0, 1.0, 1.0, 0.8, 0.6, 0.45, 0.4])
    assert difference_moves_on(difference_path(swept), 4, *at(swept, 3), GRID)
    stopped = swept[:4] + [(swept[3][0], swept[3][1], m) for m in (0.3, 0.1, 0.05)]
    assert not difference_moves_on(difference_path(stopped), 4, *at(stopped, 3), GRID)
    bounced = swept[:4] + [swept[2], swept[1], swept[0]]
    assert not difference_moves_on(difference_path(bounced), 4, *at(bounced, 3), GRID)


def residual_signals(after: list[tuple[float, float]]) -> Signals:
    """One cell approaching downwards at 0.03 widths per interval up to interval 5 (energy 100), stopping at
    interval 6, then the (velocity along the approach, energy) pairs of ``after`` from interval 7 on, then
    rest at a background energy of 2."""
    rows = [(0.03, 100.0)] * 6 + [(0.002, 20.0)] + after + [(0.0, 2.0)] * 6
    n = len(rows)
    vel = np.zeros((n, *GRID, 2))
    energy = np.zeros((n, *GRID))
    for j, (v, e) in enumerate(rows):
        vel[j, 2, 4, 1] = v
        energy[j, 2, 4] = e
    z = np.zeros((n, *GRID))
    return Signals(times=np.arange(n) / 30.0, vel=vel, area=z, mag=z, cx=z, cy=z, energy=energy,
                   moments=np.zeros((n, *GRID, 2)))


def test_residual_motion_moves_the_contact_to_its_end():
    """A knife stopping in food sinks on slowly for two intervals and reaches the board at their end."""
    weights = np.zeros(GRID)
    weights[2, 4] = 1.0
    sig = residual_signals([(0.003, 30.0), (0.001, 12.0)])
    assert residual_end(sig, 6, weights) == pytest.approx(8 / 30.0)
    # A rebound reverses at once: no residual, the stop stays where the contact model puts it.
    assert residual_end(residual_signals([(-0.01, 40.0), (-0.01, 40.0)]), 6, weights) is None
    # A clean stop: the difference is at its background right after the stop interval.
    assert residual_end(residual_signals([(0.0, 2.0)]), 6, weights) is None


REAL = MEDIA / "video" / "condfoleygen_hitting_bag.mp4"


@pytest.mark.media
@pytest.mark.skipif(not REAL.exists(), reason="shared real footage is absent")
def test_real_footage_hitting_bag():
    info = probe(str(REAL))
    det = EventDetector().detect(info, 0.0, info.duration_s)
    n = len(impacts(det))
    assert 5 <= n <= 16  # about 8 drumstick strikes in 6 s
    assert len([e for e in det.events if e.kind == "ambience"]) == 1 and det.cuts == []


def test_ambience_level_grows_with_activity_without_saturating() -> None:
    from models.detect import ambience_level

    levels = [ambience_level(a) for a in (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)]
    assert levels == sorted(levels) and len(set(levels)) == len(levels)
    assert levels[0] >= 0.1 and levels[-1] <= 1.0
    assert ambience_level(0.5) < 0.5 < ambience_level(4.0)  # room tone for calm shots, air for busy ones


def test_region_peaks_one_candidate_per_region_and_no_spill():
    """Two stops in the same interval far apart are two candidates, each weighted by its own 3 x 3 cells;
    a weak score next to a strong one (its spill into the neighbourhood) is none."""
    from models.detect import region_peaks

    cells = np.zeros((10, 4, 8))
    cells[5, 2, 1] = 1.0
    cells[5, 2, 2] = 0.4     # spill of the first: within reach, not a peak of its own
    cells[5, 1, 6] = 0.5     # another object, far enough away
    cells[5, 0, 4] = 0.1     # below REGION_REL of the interval's strongest cell
    peaks = region_peaks(cells, floor=1e-3, reach=2, rel=0.25)
    assert [(k, divmod(int(np.argmax(w)), 8)) for k, w in peaks] == [(5, (1, 6)), (5, (2, 1))]
    for _, w in peaks:
        r, c = divmod(int(np.argmax(w)), 8)
        assert np.count_nonzero(w[max(0, r - 1):r + 2, max(0, c - 1):c + 2]) == np.count_nonzero(w)


def test_difference_blobs_strongest_first_with_centroid_and_edge():
    """diff_blobs: connected changed regions, strongest first, centroids in widths of the small image, the ones
    touching its edge marked, changes below the level ignored."""
    from models.motion import BLOB_EDGE, BLOB_ENERGY, BLOB_X, BLOB_Y, diff_blobs

    small = np.zeros((36, 64), np.uint8)
    small[10:14, 20:24] = 200          # strong, centre (22, 12) px
    small[20:22, 40:42] = 60           # weaker, centre (41, 21) px
    small[30:36, 0:3] = 90             # at the left and bottom edges
    small[2, 50] = 8                   # below the level: noise
    b = diff_blobs(small)
    assert b.shape[0] >= 3 and (b[3:, BLOB_ENERGY] == 0).all()
    assert b[0, BLOB_ENERGY] > b[1, BLOB_ENERGY] > b[2, BLOB_ENERGY] > 0
    assert (b[0, BLOB_X], b[0, BLOB_Y]) == pytest.approx((22 / 64, 12 / 64), abs=1e-6)
    assert (b[2, BLOB_X], b[2, BLOB_Y]) == pytest.approx((41 / 64, 21 / 64), abs=1e-6)
    assert b[1, BLOB_EDGE] == 1 and b[0, BLOB_EDGE] == 0 and b[2, BLOB_EDGE] == 0
    assert not diff_blobs(np.full((36, 64), 9, np.uint8)).any()


def _blob_frames(paths, n):
    """(n, BLOBS, channels) blob (or silhouette) arrays with one per path (a function k -> (x, y) or None)."""
    from models.motion import BLOBS, N_BLOB_CHANNELS

    out = np.zeros((n, BLOBS, N_BLOB_CHANNELS), np.float32)
    for k in range(n):
        for i, path in enumerate(paths):
            at = path(k)
            if at is not None:
                out[k, i, :3] = (1e-3, at[0], at[1])
    return out


def _dropped(t_hit, g, floor, e):
    """y(t) of a thing dropped at rest at t = 0 (y down the frame, gravity ``g``) that reaches ``floor`` at
    ``t_hit`` and bounces back up with restitution ``e``."""
    def y_at(t):
        if t <= t_hit:
            return floor - 0.5 * g * (t_hit ** 2 - t ** 2)
        v_up = e * g * t_hit
        return floor - v_up * (t - t_hit) + 0.5 * g * (t - t_hit) ** 2

    return y_at


@pytest.mark.parametrize("fps, t_hit", [(25.0, 0.513), (30000 / 1001, 0.61), (60.0, 0.455)])
def test_blob_bounce_on_a_floor_is_timed_within_a_quarter_frame(fps, t_hit):
    """A blob falling under gravity to a floor and bouncing up: one contact, timed from the lines through the
    blob centres (the middles of the intervals) before and after it."""
    from models.detect import blob_bounces

    n = int(1.2 * fps)
    times = np.arange(n) / fps
    g, floor, e = 1.2, 0.45, 0.5   # widths/s^2, blob-image widths

    y_at = _dropped(t_hit, g, floor, e)

    def centre(k):   # the difference blob sits between the object's places in frames k-1 and k
        return (0.5, 0.5 * (y_at(times[k - 1]) + y_at(times[k]))) if k else None

    found = blob_bounces(times, _blob_frames([centre], n), (4, 8))
    assert len(found) == 1, found
    assert abs(found[0]["time_s"] - t_hit) <= 0.25 / fps
    assert found[0]["extra"] == {"cue": "bounce"} and not found[0]["rising"]


@pytest.mark.parametrize("fps", [24.0, 25.0, 30000 / 1001, 60.0])
@pytest.mark.parametrize("late", [0.6, 0.75, 0.9])
@pytest.mark.parametrize("blob_at_contact", [True, False])
def test_blob_bounce_late_in_an_interval_or_without_a_blob_at_it(fps, late, blob_at_contact):
    """Contacts late in an interval, whose blob (halfway between the ball's places before and after it) still
    moves on by more than half a step, and contacts whose interval leaves no blob at all (the ball barely moved
    across it): one contact each, within half a frame."""
    from models.detect import blob_bounces

    n = int(1.2 * fps)
    times = np.arange(n) / fps
    t_hit = (int(0.5 * fps) + late) / fps
    g, floor, e = 1.6, 0.45, 0.45

    y_at = _dropped(t_hit, g, floor, e)

    def centre(k):
        if not k or (not blob_at_contact and times[k - 1] < t_hit <= times[k]):
            return None
        return 0.5, 0.5 * (y_at(times[k - 1]) + y_at(times[k]))

    found = blob_bounces(times, _blob_frames([centre], n), (4, 8))
    assert len(found) == 1, found
    assert abs(found[0]["time_s"] - t_hit) <= 0.5 / fps, (found[0]["time_s"], t_hit)


def test_blob_bounces_not_from_smooth_turns_lifts_or_crowds():
    """A mover turning smoothly (swaying foliage, a walker), a lift stopping at its top, and two blobs passing
    close to each other (whose tracks can swap) give no bounce."""
    from models.detect import blob_bounces

    fps, n = 25.0, 50
    times = np.arange(n) / fps

    def sway(k):
        return 0.5 + 0.2 * np.sin(2 * np.pi * times[k] / 1.2), 0.3

    def lift(k):   # up at constant speed, then rests
        return 0.3, 0.45 - 0.3 * min(times[k], 0.8)

    def fall(k):   # down, then stops: a contact ...
        return 0.5, 0.1 + 0.4 * min(times[k], 0.88)

    def other(k):  # ... unless another blob is beside it
        return 0.55, 0.5 - 0.01 * k

    assert blob_bounces(times, _blob_frames([sway], n), (4, 8)) == []
    assert blob_bounces(times, _blob_frames([lift], n), (4, 8)) == []
    assert len(blob_bounces(times, _blob_frames([fall], n), (4, 8))) == 1
    assert blob_bounces(times, _blob_frames([fall, other], n), (4, 8)) == []


@pytest.mark.parametrize("fps, t_rest", [(25.0, 0.47), (30000 / 1001, 0.515)])
def test_blob_that_comes_to_rest_is_a_contact_at_its_arrival(fps, t_rest):
    """An object sliding down at constant speed that stops dead leaves no difference after it rests: its
    blob track ends there. The contact is timed from how far the last interval's blob centre still moved."""
    from models.detect import blob_bounces

    n = int(1.0 * fps)
    times = np.arange(n) / fps
    def y_at(t):
        return 0.1 + 0.5 * min(t, t_rest)

    def centre(k):   # between its places in frames k-1 and k; nothing once both are at rest
        if k == 0 or times[k - 1] >= t_rest:
            return None
        return 0.5, 0.5 * (y_at(times[k - 1]) + y_at(times[k]))

    found = blob_bounces(times, _blob_frames([centre], n), (4, 8))
    assert len(found) == 1, found
    assert abs(found[0]["time_s"] - t_rest) <= 0.1 / fps


def _disc_frames(n, centre, radius=5.0, size=(72, 128), seed=0, shift=(0, 0)):
    """``n`` uint8 frames of a plain disc at ``centre(k)`` (px) over a smooth random texture that moves by
    ``shift`` px a frame (a pan)."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = size
    pad = 90
    big = cv2.resize(rng.integers(30, 120, ((h + 2 * pad) // 4, (w + 2 * pad) // 4)).astype(np.float32),
                     (w + 2 * pad, h + 2 * pad), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for k in range(n):
        dx, dy = shift[0] * k, shift[1] * k
        frame = big[pad - dy:pad - dy + h, pad - dx:pad - dx + w].copy()
        if centre(k) is not None:
            cx, cy = centre(k)
            frame[(xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 <= radius ** 2] = 220.0
        out.append(np.clip(frame, 0, 255).astype(np.uint8))
    return out


@pytest.mark.parametrize("shift", [(0, 0), (1, 0)])
def test_background_silhouette_is_the_whole_object(shift):
    """A plain disc that comes into view and moves on (its frame difference would be two thin crescents) is one
    silhouette centred on it, also while the camera pans (the background is moved with the camera); once it
    has rested for a while it becomes background."""
    import cv2

    from models.motion import BLOB_EDGE, BLOB_ENERGY, BLOB_X, BLOB_Y, SIL_STILL_FRAMES, Background, forward_map

    n, rest = 75, 20

    def centre(k):
        if k < 2:
            return None
        k = min(k, rest)
        return 15.0 + shift[0] * k + 1.0 * k, 10.0 + shift[1] * k + 2.0 * k

    def still_centre(k):   # where the disc is in the scene (the picture moves by shift a frame)
        c = centre(k)
        return None if c is None else (c[0] + shift[0] * (k - min(k, rest)), c[1] + shift[1] * (k - min(k, rest)))

    frames_ = _disc_frames(n, still_centre, shift=shift)
    bg = Background()
    cam = forward_map(np.array([[0.0, 0.0, shift[0]], [0.0, 0.0, shift[1]]])) if shift != (0, 0) else None
    sil, prev = [], None
    for f in frames_:
        moved = prev if prev is None or cam is None else cv2.warpAffine(prev, cam, (128, 72), flags=cv2.INTER_LINEAR,
                                                                         borderMode=cv2.BORDER_REPLICATE)
        sil.append(bg.step(f, moved, cam))
        prev = f
    inner = [[r for r in s if r[BLOB_ENERGY] > 0 and not r[BLOB_EDGE]] for s in sil]
    for k in range(2, rest + SIL_STILL_FRAMES):
        assert len(inner[k]) == 1, (k, sil[k])
        x, y = still_centre(k)
        assert abs(inner[k][0][BLOB_X] * 128 - x) < 0.3 and abs(inner[k][0][BLOB_Y] * 128 - y) < 0.3, k
        assert inner[k][0][BLOB_ENERGY] * 128 * 72 == pytest.approx(np.pi * 25, rel=0.15)
    assert all(not s for s in inner[rest + SIL_STILL_FRAMES + 30:])


@pytest.mark.parametrize("fps", [24.0, 25.0, 30000 / 1001, 60.0])
@pytest.mark.parametrize("frac", [0.1, 0.5, 0.9])
def test_silhouette_contact_is_the_hinge_of_its_path(fps, frac):
    """A silhouette falling under gravity and bouncing: one contact, timed where the fitted path's velocity
    changes, within a quarter frame, wherever in the interval the contact falls."""
    from models.detect import silhouette_contacts

    n = int(1.3 * fps)
    times = np.arange(n) / fps
    t_hit = (int(0.55 * fps) + frac) / fps
    g, floor, e = 1.2, 0.45, 0.5

    y_at = _dropped(t_hit, g, floor, e)

    found = silhouette_contacts(times, _blob_frames([lambda k: (0.5, y_at(times[k]))], n))
    assert len(found) == 1, found
    assert abs(found[0]["time_s"] - t_hit) <= 0.25 / fps, (found[0]["time_s"], t_hit)
    assert found[0]["extra"] == {"cue": "silhouette"}


def test_silhouette_contacts_not_from_turns_lifts_sideways_stops_or_crowds():
    """A smooth turn (a swaying branch, a walker), a lift that stops at its top, a sideways stop (the flow's
    to judge) and a fall beside another silhouette give no contact; the fall alone gives one."""
    from models.detect import silhouette_contacts

    fps, n = 25.0, 50
    times = np.arange(n) / fps

    def sway(k):
        return 0.5 + 0.2 * np.sin(2 * np.pi * times[k] / 1.2), 0.3 + 0.05 * np.cos(2 * np.pi * times[k] / 1.2)

    def lift(k):
        return 0.3, 0.45 - 0.3 * min(times[k], 0.8)

    def slide(k):
        return 0.2 + 0.5 * min(times[k], 0.9), 0.3

    def fall(k):
        return 0.5, 0.1 + 0.4 * min(times[k], 0.88)

    def other(k):
        return 0.58, 0.5 - 0.005 * k

    for quiet in ([sway], [lift], [slide], [fall, other]):
        assert silhouette_contacts(times, _blob_frames(quiet, n)) == [], quiet
    assert len(silhouette_contacts(times, _blob_frames([fall], n))) == 1


def test_join_cues_one_contact_per_place_and_moment():
    """A bounce or a silhouette's contact within 1.5 frames of the flow's stop is that contact only in the
    same place; a bounce gives the joined contact its place, a silhouette's hinge its moment and its place;
    a flash takes the recoil stop."""
    dt = 1.0 / 25

    def ev(t, x, y, cue=None):
        e = {"kind": "impact", "time_s": t, "x": x, "y": y}
        if cue:
            e["extra"] = {"cue": cue}
        return e

    stop = ev(1.00, 0.30, 0.80)
    elsewhere = ev(1.00 + 1.2 * dt, 0.75, 0.80, "bounce")       # another ball, a frame later: its own contact
    same = ev(1.00 + 0.8 * dt, 0.32, 0.78, "bounce")            # the stop's ball: the same contact
    hinge = ev(1.00 + 0.4 * dt, 0.31, 0.79, "silhouette")       # the same contact, timed by the whole path
    far_hinge = ev(1.00 - 1.0 * dt, 0.55, 0.30, "silhouette")   # a third thing, far off: its own contact
    hits = join_cues([stop], [], [elsewhere, same], [hinge, far_hinge], dt)
    assert [(h["time_s"], h["x"], h["y"]) for h in hits] == [(hinge["time_s"], 0.31, 0.79),
                                                             (elsewhere["time_s"], 0.75, 0.80),
                                                             (far_hinge["time_s"], 0.55, 0.30)]
    placed = join_cues([ev(1.00, 0.30, 0.80)], [], [same], [], dt)
    assert [(h["time_s"], h["x"], h["y"]) for h in placed] == [(1.00, 0.32, 0.78)]
    flash = ev(2.0, 0.5, 0.5, "flash")
    recoil = ev(2.06, 0.55, 0.5)
    assert join_cues([recoil, stop], [flash], [], [ev(2.0 + 0.5 * dt, 0.5, 0.52, "silhouette")], dt) == [stop]


def test_vote_halves_keeps_what_two_of_three_analyses_see():
    """60 fps: an impact of every frame stays where a half (the even or the odd frames) has one within three
    frames, at its own finer time; one that neither half sees goes; one both halves see within 0.75 frame that
    every frame missed is added at the mean of their times and places. Whooshes, cuts and shots stay."""
    from models.detect import Detection

    dt = 1.0 / 60

    def det(*events, cuts=()):
        return Detection(events=[Event(kind=k, time_s=t, duration_s=0.0, confidence=0.9, x=x, y=0.8)
                                 for k, t, x in events], cuts=list(cuts), shots=[(0.0, 3.0)])

    whole = det(("impact", 0.500, 0.3), ("impact", 1.000, 0.6), ("whoosh", 1.2, 0.5), cuts=[2.5])
    even = det(("impact", 0.500 + 2.5 * dt, 0.31), ("impact", 1.500, 0.40), ("impact", 2.000, 0.2))
    odd = det(("impact", 1.500 + 0.6 * dt, 0.44), ("impact", 2.000 + 1.0 * dt, 0.2))
    voted = vote_halves(whole, [even, odd], dt)
    assert [(e.kind, round(e.time_s, 4), round(e.x, 2)) for e in voted.events] == [
        ("impact", 0.5, 0.3),                               # every frame's, a half agrees: its time
        ("whoosh", 1.2, 0.5),                               # not voted on
        ("impact", round(1.500 + 0.3 * dt, 4), 0.42)]       # the halves agree, every frame missed it
    assert [e.id for e in voted.events] == [1, 2, 3]
    assert [e.extra.get("halves", False) for e in voted.events] == [False, False, True]
    assert voted.cuts == [2.5] and voted.shots == [(0.0, 3.0)]
    # the halves a whole frame apart at 2.0 s do not agree: nothing there; nor does one half alone at 1.0 s
    assert vote_halves(det(), [det(("impact", 1.0, 0.5)), det()], dt).events == []


def test_a_stop_where_the_flow_lost_a_falling_ball_gives_way_to_its_landing():
    """A ball falls faster than the flow can follow: the flow reads a slow motion that stops in mid-air two
    frames before the ball lands, where its silhouette's hinge shows it arriving ten times as fast. That stop
    is no contact of its own. A stop followed as soon by a contact as slow as itself (a hand that strikes
    twice), or by a fast one far off, keeps its own event."""
    dt = 1.0 / 24

    def ev(t, x, y, speed, cue=None):
        e = {"kind": "impact", "time_s": t, "x": x, "y": y, "speed_wps": speed}
        if cue:
            e["extra"] = {"cue": cue}
        return e

    lost = ev(0.711, 0.50, 0.48, 0.17)
    landing = ev(0.711 + 2.2 * dt, 0.48, 0.77, 1.9, "silhouette")
    assert join_cues([lost], [], [], [landing], dt) == [landing]
    assert join_cues([lost], [], [landing], [], dt) == [landing]
    again = ev(0.711 + 2.2 * dt, 0.48, 0.60, 0.3, "bounce")
    assert join_cues([lost], [], [again], [], dt) == [lost, again]
    elsewhere = ev(0.711 + 2.2 * dt, 0.85, 0.80, 1.9, "silhouette")
    assert join_cues([lost], [], [], [elsewhere], dt) == [lost, elsewhere]
    later = ev(0.711 + 4.0 * dt, 0.48, 0.77, 1.9, "silhouette")
    assert join_cues([lost], [], [], [later], dt) == [lost, later]


@pytest.mark.parametrize("fps", [24.0, 30.0, 60.0])
@pytest.mark.parametrize("frac", [0.1, 0.8])
def test_silhouette_contact_seen_through_a_shaking_camera(fps, frac):
    """A bounce filmed hand-held: every position in the picture carries the camera's tremor (4-5 Hz, 0.008
    of the width). Fitted against the background (the picture's motion taken out), the path has one
    hinge, timed within a quarter frame; taken as they are in the picture, the same positions give a
    false hinge where the tremor bends the fall, or the contact mistimed or missed."""
    from models.detect import silhouette_contacts

    n = int(1.3 * fps)
    times = np.arange(n) / fps
    t_hit = (int(0.55 * fps) + frac) / fps
    y_at = _dropped(t_hit, 1.2, 0.45, 0.5)
    shake = 0.008 * np.stack([np.sin(2 * np.pi * 5.0 * times + 0.3), np.cos(2 * np.pi * 4.0 * times)], axis=1)
    seen = _blob_frames([lambda k: (0.5 + shake[k, 0], y_at(times[k]) + shake[k, 1])], n)
    camera = np.diff(shake, axis=0, prepend=shake[:1])

    def right(found):
        return len(found) == 1 and abs(found[0]["time_s"] - t_hit) <= 0.25 / fps

    found = silhouette_contacts(times, seen, camera)
    assert right(found), (found, t_hit)
    assert found[0]["x"] == pytest.approx(0.5, abs=0.01)   # where it is seen
    assert not right(silhouette_contacts(times, seen))


@pytest.mark.parametrize("shift", [(0.6, -1.3), (-1.1, 0.4)])
def test_camera_translation_refined_on_a_texture_of_one_orientation(shift):
    """Diagonal stripes with a floor line and a wall: the flow's vectors on the stripes are free along them,
    so its camera can be a pixel off that way. The picture's gradients of every orientation put the
    translation back within a tenth of a pixel from 0.8 px off, also with a ball moving by itself in the
    picture; a blank picture leaves the estimate as it was."""
    import cv2

    from models.motion import refine_translation

    h, w = 72, 128
    yy, xx = np.mgrid[0:h + 40, 0:w + 40].astype(np.float32)
    world = 110 + 50 * np.sin((xx + 0.5 * yy) / 2.0)
    world[int(0.8 * h) + 20:] *= 0.55
    world[:, :20 + 10] *= 0.5

    def view(dx, dy, ball):
        pic = cv2.warpAffine(world.astype(np.float32), np.float32([[1, 0, 20 + dx], [0, 1, 20 + dy]]), (w, h),
                             flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
        cv2.circle(pic, ball, 6, 230.0, -1)
        return np.clip(pic, 0, 255).astype(np.uint8)

    prev, cur = view(0.0, 0.0, (60, 30)), view(shift[0], shift[1], (66, 36))
    # the camera moves the picture by -shift (prev(p) = cur(p + d)); the flow's guess is off along the stripes
    true = -np.array(shift)
    along = np.array([-0.5, 1.0]) / np.hypot(0.5, 1.0)
    guess = np.array([[0.0, 0.0, true[0] + 0.8 * along[0]], [0.0, 0.0, true[1] + 0.8 * along[1]]])
    fixed = refine_translation(prev, cur, guess)
    assert np.hypot(*(fixed[:, 2] - true)) < 0.1, (fixed[:, 2], true)
    blank = np.full((h, w), 128, np.uint8)
    assert np.array_equal(refine_translation(blank, blank, guess), guess)


def test_a_drumming_hand_stops_at_each_stroke_a_lost_object_does_not():
    """The flow's per-cell velocity down the picture: a hand that strikes, lifts for an interval and strikes
    again two intervals later (congas at 8 hits a second) stops at each stroke; an object the flow loses
    for an interval and finds again along the same way (a dropout) does not stop."""
    from models.detect import decel_scores

    def signals(vy):
        n = len(vy)
        vel = np.zeros((n, *GRID, 2))
        vel[:, 1:4, 2:5, 1] = np.asarray(vy)[:, None, None]
        area = np.zeros((n, *GRID))
        area[:, 1:4, 2:5] = 1.0
        cx = np.full((n, *GRID), 0.4)
        cy = np.full((n, *GRID), 0.5)
        return Signals(times=np.arange(n) / 25.0, vel=vel, area=area, mag=area, cx=cx, cy=cy)

    v = 0.02
    strokes = [0, 0, v, v, -v, -0.5 * v, v, v, -v, 0, 0, 0]
    score, _ = decel_scores(signals(strokes), 0.004, GRID)
    assert score[4] > 0 and score[8] > 0, score
    dropout = [0, 0, v, v, v, 0, v, v, v, 0, 0, 0]
    score, _ = decel_scores(signals(dropout), 0.004, GRID)
    assert score[5] == 0, score
