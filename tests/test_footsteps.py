"""Footsteps only where pose sees a foot plant: rendered discs planting in turn low in the frame and bouncing
balls are no footsteps; the plant rule on landmark tracks; no mediapipe, no footsteps."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import models.pose as pose_module
from models.detect import EventDetector, periodic
from models.footsteps import foot_near, near_seen_foot, plant_times, planted
from models.pose import FeetTrack, load_pose
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
def test_discs_planting_low_in_the_frame_are_no_footsteps(tmp_path, fps, t_land, period, x0, dx, swing, seconds):
    """Two discs landing in turn low in the frame at walking pace are no person's feet: no footsteps (they
    are never guessed from height or rhythm alone). What the flow finds is at the landings (small feet that
    the flow loses and only the frame difference sees are candidates for pose, not events)."""
    path = tmp_path / "walk.mp4"
    lands = walker(path, fps, t_land, period, x0, dx, swing, seconds)
    det = EventDetector().detect(probe(str(path)), 0.0, seconds)
    found = contacts(det)
    assert not [e for e in found if e.kind == "footstep"]
    assert found and all(min(abs(e.time_s - t) for t, _ in lands) <= 1.0 / fps for e in found), \
        ([round(t, 3) for t, _ in lands], [round(e.time_s, 3) for e in found])


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


def track(times, xs, ys) -> FeetTrack:
    """One foot (the other unseen) at (xs[i], ys[i]) at times[i]."""
    feet = np.full((len(times), 2, 2), np.nan)
    feet[:, 0, 0], feet[:, 0, 1] = xs, ys
    return FeetTrack(np.asarray(times, float), feet)


def test_a_foot_that_moves_in_and_rests_is_planted():
    t = 1.0
    times = plant_times(t, 30.0)
    xs = [0.36 if s < t - 1e-6 else 0.50 for s in times]
    ys = [0.80 if s < t - 1e-6 else 0.88 for s in times]
    rng = np.random.default_rng(0)
    jitter = rng.uniform(-5, 5, size=(2, len(times))) / np.array([[256.0], [144.0]])   # 3-7 px at 256 x 144
    assert planted(track(times, np.add(xs, jitter[0]), np.add(ys, jitter[1])), t, 0.5, 0.87)
    # standing still: the foot never moved
    assert not planted(track(times, [0.5] * len(times), [0.88] * len(times)), t, 0.5, 0.87)
    # a contact elsewhere (a strike on a low railing next to a standing person)
    assert not planted(track(times, xs, ys), t, 0.85, 0.8)
    # still moving after the contact time: no plant
    assert not planted(track(times, np.linspace(0.3, 0.6, len(times)), ys), t, 0.5, 0.87)
    # not seen at all
    assert not planted(FeetTrack.empty(), t, 0.5, 0.87)


def test_contacts_are_checked_only_near_a_foot_seen():
    feet = np.array([[0.3, 0.9], [np.nan, np.nan]])
    seen = [(2.0, feet)]
    assert near_seen_foot(seen, 2.5, 0.35, 0.85)
    assert not near_seen_foot(seen, 4.0, 0.35, 0.85)   # too long after the look
    assert not near_seen_foot(seen, 2.5, 0.8, 0.3)     # far from the foot
    assert foot_near(feet, 0.32, 0.88) and not foot_near(feet, 0.6, 0.88)


def test_without_mediapipe_no_footsteps_and_one_log_line(monkeypatch, caplog, tmp_path):
    """mediapipe missing: load_pose says so once, and detection runs without footsteps."""
    import builtins

    real_import = builtins.__import__

    def no_mediapipe(name, *args, **kwargs):
        if name.startswith("mediapipe"):
            raise ImportError("No module named 'mediapipe'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mediapipe)
    monkeypatch.setattr(pose_module, "_missing_logged", False)
    with caplog.at_level(logging.WARNING, logger="foley.pose"):
        assert load_pose() is None
        assert load_pose() is None
    assert len([r for r in caplog.records if "mediapipe" in r.getMessage()]) == 1
    keys, hits = bounces(0.3, 0.0, 0.2, 3)
    path = tmp_path / "bounce.mp4"
    scene(path, [Mover(keys, seed=4)], seconds=hits[-1] + 0.5)
    det = EventDetector().detect(probe(str(path)), 0.0, hits[-1] + 0.5)
    assert contacts(det) and not [e for e in det.events if e.kind == "footstep"]


def test_only_periodic_still_frames_are_conversion_repeats():
    # 25 -> 30 fps repeats every 6th frame; a lone still frame is two feet resting at once
    assert periodic([6, 12, 18, 24, 31]) == [6, 12, 18, 24, 31]
    assert periodic([13, 33, 52]) == []


def test_no_contact_no_pose(tmp_path, monkeypatch):
    """A range in which nothing moves never loads mediapipe: pose is paid only where a footstep could be."""
    calls = []
    monkeypatch.setattr("models.detect.load_pose", lambda: calls.append(1))
    path = tmp_path / "still.mp4"
    scene(path, [], seconds=1.5)
    det = EventDetector().detect(probe(str(path)), 0.0, 1.5)
    assert [e for e in det.events if e.kind in ("impact", "footstep")] == []
    assert calls == []


def test_native_stderr_chatter_is_filtered(capfd):
    """mediapipe's set-up lines written to file descriptor 2 by native code are dropped; any other line
    written in the same window still reaches stderr."""
    import os

    with pose_module.quiet_native_stderr():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"W0000 00:00:1796087125.134842    1100 inference_feedback_manager.cc:114] Feedback\n")
        os.write(2, b"a real error\n")
    err = capfd.readouterr().err
    assert err == "a real error\n"


def test_pose_needs_no_matplotlib():
    """setup.sh installs mediapipe without matplotlib (it serves only mediapipe's drawing helpers): pose
    loads and looks at a frame in a process where matplotlib cannot be imported."""
    import subprocess
    import sys

    code = ("import sys\n"
            "sys.modules['matplotlib'] = None\n"
            "import numpy as np\n"
            "from models.pose import load_pose\n"
            "pose = load_pose()\n"
            "assert pose is not None\n"
            "print(pose.feet_in(np.zeros((144, 256, 3), np.uint8)).shape)\n")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(root))
    assert proc.returncode == 0 and proc.stdout.strip() == "(2, 2)", proc.stderr[-2000:]


def test_looks_are_posed_while_decoding(tmp_path, monkeypatch):
    """Where something moves, the presence looks are posed on the pose thread during the decoding pass;
    presence then reads those results and poses nothing more."""
    import threading

    calls: list[str] = []

    def feet_in_gray(self, gray):
        calls.append(threading.current_thread().name)
        return np.full((2, 2), np.nan)

    monkeypatch.setattr(EventDetector, "feet_in_gray", feet_in_gray)
    keys, hits = bounces(0.3, 0.0, 0.2, 3)
    path = tmp_path / "bounce.mp4"
    scene(path, [Mover(keys, seed=4)], seconds=hits[-1] + 0.5, fps=30.0)
    det = EventDetector().detect(probe(str(path)), 0.0, hits[-1] + 0.5)
    assert contacts(det)
    assert len(calls) >= 2   # a look per second of the moving stretch
    assert all(name.startswith("foley-pose") for name in calls), calls


def test_looks_pose_the_rest_on_demand_and_cancel_what_they_drop(monkeypatch):
    """A look taken while nothing moved is posed only when presence asks for it (on the asking thread); when
    the list is thinned out, the dropped looks' pending poses are cancelled and their frames let go."""
    import threading

    import models.detect as detect_module
    from models.detect import Looks

    gate = threading.Event()
    calls: list[tuple[float, str]] = []

    class Detector:
        def feet_in_gray(self, gray):
            gate.wait(5)
            calls.append((float(gray[0, 0]), threading.current_thread().name))
            return np.zeros((2, 2))

    monkeypatch.setattr(detect_module, "MAX_LOOKS", 4)
    looks = Looks(Detector())
    frame = [np.full((4, 4), v, np.uint8) for v in range(4)]
    try:
        assert not looks.add(0.0, frame[0], moved=True)    # its pose blocks the thread until the gate opens
        assert not looks.add(1.0, frame[1], moved=True)
        assert not looks.add(2.0, frame[2], moved=False)
        assert looks.add(3.0, frame[3], moved=True)        # the 4th: every second one goes
        assert [t for t, _ in looks.frames] == [0.0, 2.0]
        gate.set()
        assert looks.feet(0.0, frame[0]) is not None
        assert looks.feet(2.0, frame[2]) is not None
    finally:
        looks.close()
    by_value = dict(calls)
    assert by_value[0.0].startswith("foley-pose")
    assert by_value[2.0] == threading.current_thread().name
    assert 1.0 not in by_value and 3.0 not in by_value   # dropped before their pose ran
