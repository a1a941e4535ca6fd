"""Footsteps on rendered walkers (two small feet planting in turn, low in the frame) and bouncing balls that
must stay impacts."""
from __future__ import annotations

import numpy as np
import pytest

from models.detect import EventDetector, periodic, walking
from models.video import probe
from videos import Mover, scene, walk

FLOOR = 0.85


def contacts(det):
    return [e for e in det.events if e.kind in ("impact", "footstep")]


def walker(path, fps, t_land, period, x0, dx, swing, seconds):
    """Render two feet (left one first) and return their landings (time_s, x) in time order."""
    steps = 3
    feet = [walk(t_land, steps, x0, dx=dx, period=period, floor=FLOOR, swing=swing),
            walk(t_land + period / 2, steps, x0 + dx * 2 / 3, dx=dx, period=period, floor=FLOOR, swing=swing)]
    movers = [Mover(feet[0], radius=0.07, seed=1), Mover(feet[1], radius=0.07, color=(40, 90, 230), seed=2)]
    scene(path, movers, seconds=seconds, fps=fps)
    lands = [(t_land + i * period, x0 + (i + 1) * dx) for i in range(steps)]
    lands += [(t_land + period / 2 + i * period, x0 + dx * 2 / 3 + (i + 1) * dx) for i in range(steps)]
    return sorted(lands)


@pytest.mark.parametrize("fps, t_land, period, x0, dx, swing, seconds", [
    (30.0, 0.6, 1.0, 0.15, 0.15, 0.35, 3.6),   # left to right, a step every 0.5 s
    (24.0, 0.5, 0.8, 0.85, -0.12, 0.3, 3.0),   # right to left, a step every 0.4 s
])
def test_every_planting_is_a_footstep_within_one_frame(tmp_path, fps, t_land, period, x0, dx, swing, seconds):
    path = tmp_path / "walk.mp4"
    lands = walker(path, fps, t_land, period, x0, dx, swing, seconds)
    det = EventDetector().detect(probe(str(path)), 0.0, seconds)
    found = contacts(det)
    steps = [e for e in found if e.kind == "footstep"]
    assert len(steps) == len(lands), [(e.kind, round(e.time_s, 3)) for e in found]
    for (t, x), e in zip(lands, steps):
        assert abs(e.time_s - t) <= 1.0 / fps, (t, e.time_s)
        assert abs(e.x - x) < 0.05, (t, x, e.x)
        assert e.y > 0.6
    xs = [e.x for e in steps]
    assert np.sign(xs[-1] - xs[0]) == np.sign(dx)
    # nothing else but the walk's contacts (a foot's lift and the top of its swing are no contact)
    assert all(min(abs(e.time_s - t) for t, _ in lands) <= 1.0 / fps for e in found)


def bounces(x0: float, vx: float, t0: float, hits: int, first_s: float = 0.6, keep: float = 0.75,
            y0: float = 0.45, step_s: float = 1 / 240) -> tuple[list[tuple[float, float, float]], list[float]]:
    """Keys of a ball falling from ``y0`` at ``t0`` onto FLOOR while drifting at ``vx``, bouncing ``hits``
    times, each flight ``keep`` times the one before (a bounce's height goes with the flight squared)."""
    g = 2.0 * (FLOOR - y0) / first_s ** 2
    keys = [(t0 + s, x0 + vx * s, y0 + 0.5 * g * s * s) for s in np.arange(0.0, first_s, step_s)]
    t = t0 + first_s
    times = [t]
    flight = 2.0 * first_s * keep
    for _ in range(hits - 1):
        v_up = 0.5 * g * flight
        keys += [(t + s, x0 + vx * (t - t0 + s), FLOOR - v_up * s + 0.5 * g * s * s)
                 for s in np.arange(0.0, flight, step_s)]
        t += flight
        times.append(t)
        flight *= keep
    keys.append((t, x0 + vx * (t - t0), FLOOR))
    return keys, times


@pytest.mark.parametrize("vx", [0.0, 0.08])
def test_bouncing_ball_low_in_the_frame_stays_impacts(tmp_path, vx):
    """A ball bouncing on the floor, in place or rolling on, contacts low in the frame at walking pace, but
    its bounces come ever faster: impacts, not footsteps."""
    keys, hits = bounces(0.3, vx, 0.2, 4)
    path = tmp_path / "bounce.mp4"
    scene(path, [Mover(keys, color=(80, 120, 240), seed=4)], seconds=hits[-1] + 0.6)
    det = EventDetector().detect(probe(str(path)), 0.0, hits[-1] + 0.6)
    found = contacts(det)
    assert not [e for e in found if e.kind == "footstep"], [(e.kind, round(e.time_s, 3)) for e in found]
    near = [e for e in found if min(abs(e.time_s - t) for t in hits) <= 1.0 / 30.0]
    assert len(near) >= 3, ([round(t, 3) for t in hits], [round(e.time_s, 3) for e in found])


def step(t: float, x: float, y: float = 0.85) -> dict:
    return {"time_s": t, "x": x, "y": y}


def test_walking_needs_advance_and_no_shrinking_rhythm():
    # two feet alternating between two places that move on
    assert walking([step(0.6, 0.30), step(1.1, 0.40), step(1.6, 0.45), step(2.1, 0.55)])
    # stamping in place
    assert not walking([step(0.6, 0.30), step(1.1, 0.31), step(1.6, 0.30), step(2.1, 0.31)])
    # a ball rolling on and bouncing ever faster
    assert not walking([step(0.6, 0.30), step(1.5, 0.37), step(2.1, 0.42), step(2.5, 0.45)])


def test_only_periodic_still_frames_are_conversion_repeats():
    # 25 -> 30 fps repeats every 6th frame; a lone still frame is two feet resting at once
    assert periodic([6, 12, 18, 24, 31]) == [6, 12, 18, 24, 31]
    assert periodic([13, 33, 52]) == []
