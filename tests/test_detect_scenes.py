"""Detection on simulated scenes (tests/scenes.py: gravity, restitution, a moving camera, swipes, cuts, several
frame rates): contacts within one frame, nothing from a pan, shake, swipe or cut, flashes at their frame."""
from __future__ import annotations

import numpy as np
import pytest

from models.detect import EventDetector, analysis_halves, analysis_stride, find_flashes, mask_recoils
from models.video import probe
from scenes import SUBFRAMES, Ball, Bar, Swing, World, encode, frames, lit_frames, quiet_scene, render


def contacts(det):
    return [e for e in det.events if e.kind in ("impact", "footstep")]


def detect(path, seconds):
    return EventDetector().detect(probe(str(path)), 0.0, seconds)


@pytest.mark.parametrize("fps, restitution, texture, shutter", [
    (25.0, 0.45, "noise", 0.0),
    (30000 / 1001, 0.6, "checker", 0.0),
    (24.0, 0.55, "stripes", 0.5),
])
def test_bounces_within_one_frame(tmp_path, fps, restitution, texture, shutter):
    """A dropped ball's first two landings are found within one frame: the second, weaker one approaches the
    floor the way the first did, so it is a new contact, not the first one's recoil. Also where a
    180-degree shutter blurs the ball along its path."""
    world = World(fps=fps, seconds=2.0, shutter=shutter,
                  balls=[Ball(0.2, 0.8, 0.15, radius=0.08, restitution=restitution, texture=texture)])
    truth = render(tmp_path / "bounce.mp4", world)
    found = contacts(detect(tmp_path / "bounce.mp4", 2.0))
    for t, _, _ in truth.impacts[:2]:
        assert min(abs(e.time_s - t) for e in found) <= 1.0 / fps, (t, [e.time_s for e in found])


@pytest.mark.parametrize("fps, texture", [(120.0, "noise"), (240.0, "checker")])
def test_high_speed_video_is_analysed_at_a_lower_rate(tmp_path, fps, texture):
    """At 120-240 fps a ball's later bounces move under a pixel a frame at the analysis' size, within the
    flow's jitter, and were missed (at 240 fps 13 of 80 simulated contacts were found within 33 ms). Such
    video is analysed at every n-th frame (about 24 fps): every landing is found within 25 ms, and
    nothing else is."""
    world = World(fps=fps, seconds=2.0, shutter=0.5, grain=2.0,
                  balls=[Ball(0.1, 0.8, 0.15, radius=0.09, restitution=0.6, texture=texture)])
    truth = render(tmp_path / "fast.mp4", world)
    found = sorted(contacts(detect(tmp_path / "fast.mp4", 2.0)), key=lambda e: e.time_s)
    assert len(truth.impacts) >= 3
    assert len(found) == len(truth.impacts), (truth.impacts, [e.time_s for e in found])
    for (t, _, _), e in zip(truth.impacts, found):
        assert abs(e.time_s - t) <= 0.025, (t, e.time_s)
    assert analysis_stride(fps) == int(fps // 24) and analysis_stride(60.0) == analysis_stride(30.0) == 1


def test_60_fps_is_also_analysed_in_halves(tmp_path):
    """At 60 fps a ball's fourth landing approaches at 1.3 px an interval (at the analysis' 256 px) on a
    grainy picture, and the analysis of every frame missed it. Its even and its odd frames, each analysed
    as 30 fps video, both find it, and two of the three analyses agreeing make it a contact: every landing
    is found within one frame, and nothing else is."""
    world = World(fps=60.0, seconds=2.5, shutter=0.5, grain=4.0, texture="noise",
                  balls=[Ball(0.1, 0.8, 0.15, radius=0.08, restitution=0.6, texture="flat")])
    truth = render(tmp_path / "sixty.mp4", world)
    found = sorted(contacts(detect(tmp_path / "sixty.mp4", 2.5)), key=lambda e: e.time_s)
    assert len(truth.impacts) == 4
    assert len(found) == 4, (truth.impacts, [e.time_s for e in found])
    for (t, _, _), e in zip(truth.impacts, found):
        assert abs(e.time_s - t) <= 1.0 / 60, (t, e.time_s)
    assert analysis_halves(60.0) == analysis_halves(50.0) == 2
    assert analysis_halves(30.0) == analysis_halves(120.0) == 1


@pytest.mark.parametrize("fps, texture, radius", [
    (25.0, "flat", 0.05),
    (24.0, "checker", 0.06),
])
def test_small_ball_the_flow_loses_is_found_by_its_difference_blob(tmp_path, fps, texture, radius):
    """A small ball falling further than its size in a frame is lost by the optical flow (it finds one or two of
    the four landings); its frame-difference blob bounces (models.detect.blob_bounces): three of the four are
    found within one frame, and nothing else."""
    world = World(fps=fps, seconds=3.0, grain=2.0,
                  balls=[Ball(0.2, 0.8, 0.15, radius=radius, restitution=0.6, texture=texture)])
    truth = render(tmp_path / "small.mp4", world)
    found = contacts(detect(tmp_path / "small.mp4", 3.0))
    hit = [t for t, _, _ in truth.impacts if found and min(abs(e.time_s - t) for e in found) <= 1.0 / fps]
    assert len(truth.impacts) == 4 and len(hit) >= 3, (truth.impacts, [e.time_s for e in found])
    assert len(found) == len(hit)
    assert any(e.extra.get("cue") == "bounce" for e in found)


@pytest.mark.parametrize("fps, texture, radius, restitution", [
    (25.0, "flat", 0.09, 0.55),
    (30000 / 1001, "flat", 0.1, 0.5),
    (24.0, "stripes", 0.08, 0.6),
])
def test_late_small_hop_is_found_by_its_silhouette(tmp_path, fps, texture, radius, restitution):
    """A ball's last, small hop (a few pixels high, its frame difference thin or split in two) is found by
    its silhouette's path (models.detect.silhouette_contacts), within one frame like the landings before it,
    and nothing else is."""
    world = World(fps=fps, seconds=3.0, grain=2.0,
                  balls=[Ball(0.2, 0.8, 0.15, radius=radius, restitution=restitution, texture=texture)])
    truth = render(tmp_path / "hop.mp4", world)
    found = contacts(detect(tmp_path / "hop.mp4", 3.0))
    assert len(found) == len(truth.impacts), (truth.impacts, [e.time_s for e in found])
    for (t, _, _), e in zip(truth.impacts, sorted(found, key=lambda e: e.time_s)):
        assert abs(e.time_s - t) <= 1.0 / fps, (t, e.time_s)
    assert sorted(found, key=lambda e: e.time_s)[-1].extra.get("cue") == "silhouette"


@pytest.mark.parametrize("fps, texture", [(30000 / 1001, "stripes"), (24.0, "flat")])
def test_two_balls_landing_a_frame_apart_are_two_contacts(tmp_path, fps, texture):
    """Two balls dropped 1.3 frame intervals apart land that far apart in time, half the frame apart: each
    landing is found within one frame near its own ball, whichever cue finds it (a contact of one cue is
    the same as another's only where it is also in the same place)."""
    balls = [Ball(0.0, 0.4, 0.15, radius=0.08, restitution=0.55, texture=texture),
             Ball(1.3 / fps, 1.3, 0.15, radius=0.08, restitution=0.55, texture=texture, seed=2, color=(60, 120, 220))]
    truth = render(tmp_path / "two.mp4", World(fps=fps, seconds=2.5, grain=2.0, balls=balls))
    found = contacts(detect(tmp_path / "two.mp4", 2.5))
    landings = sorted(truth.impacts)[:4]
    assert len({round(x, 1) for _, x, _ in landings}) == 2
    for t, x, _ in landings:
        assert any(abs(e.time_s - t) <= 1.0 / fps and abs(e.x - x) <= 0.1 for e in found), \
            (t, x, [(round(e.time_s, 3), round(e.x, 2), e.extra.get("cue")) for e in found])


@pytest.mark.parametrize("kind, fps, seconds, seed", [("pan", 25.0, 3.0, 0), ("shake", 25.0, 3.0, 0),
                                                     ("pan", 30000 / 1001, 5.0, 29)])
def test_camera_motion_makes_no_impact(tmp_path, kind, fps, seconds, seed):
    """A slow pan that starts and ends at rest, and hand-held shake (translation and roll), over a still
    scene: the camera's motion is removed before contacts are looked for. (In the longer pan a cell
    whose neighbour's pooled flow slowed, with nothing of its own moving, was once a stop.)"""
    quiet_scene(tmp_path / "cam.mp4", kind, fps=fps, seconds=seconds, seed=seed)
    det = detect(tmp_path / "cam.mp4", seconds)
    assert contacts(det) == [] and det.cuts == []


def test_flowing_water_is_one_shot(tmp_path):
    """The rippling, glinting water scene flows by continuously: one shot, no cut (it once wrapped its drift
    every half second, which read as a cut each time)."""
    quiet_scene(tmp_path / "water.mp4", "water", fps=30000 / 1001, seconds=3.0)
    det = detect(tmp_path / "water.mp4", 3.0)
    assert det.cuts == [] and len(det.shots) == 1


def test_bar_swipe_makes_no_impact_and_one_whoosh(tmp_path):
    world = World(fps=30.0, seconds=2.0, bars=[Bar(0.6, speed=3.0)])
    truth = render(tmp_path / "swipe.mp4", world)
    det = detect(tmp_path / "swipe.mp4", 2.0)
    assert contacts(det) == [], [e.time_s for e in contacts(det)]
    a, b = truth.swipes[0]
    assert len([e for e in det.events if e.kind == "whoosh" and e.time_s < b and e.time_s + e.duration_s > a]) == 1


@pytest.mark.parametrize("shutter", [0.0, 0.5, 1.0])
def test_shutter_blurs_along_the_path(shutter):
    """The scenes' camera keeps its shutter open for a fraction of the frame interval: a bar crossing at 3
    widths a second at 30 fps changes its own width plus the way it travels while the shutter is open."""
    bar = Bar(0.0, speed=3.0, width=0.05, color=(255, 255, 255))
    plain, _ = frames(World(fps=30.0, seconds=0.4, texture="stripes", shutter=shutter))
    swept, _ = frames(World(fps=30.0, seconds=0.4, texture="stripes", shutter=shutter, bars=[bar]))
    row = 135
    changed = np.abs(swept[6][row].astype(int) - plain[6][row].astype(int)).max(axis=1) > 2
    subs = max(1, int(np.ceil(shutter * SUBFRAMES)))
    travel = bar.speed * shutter / 30.0 * (1.0 - 1.0 / subs)   # between the first and last moments sampled
    width = 480 * (bar.width + travel)
    assert abs(int(changed.sum()) - width) <= 3, (int(changed.sum()), width)
    assert np.array_equal(frames(World(fps=30.0, seconds=0.2, bars=[bar]))[0][3],
                          frames(World(fps=30.0, seconds=0.2, bars=[bar], shutter=0.0))[0][3])


def test_swing_strokes_to_and_fro_and_slows_to_rest():
    """The scenes' swinging blade (a windscreen wiper, a swung stick): each stroke starts and ends at rest
    (no stop in it is a contact), the next one comes back, and the blade is drawn where its angle says."""
    sw = Swing(t0=0.2, pivot=(0.5, 0.5), length=0.4, start_deg=160.0, end_deg=20.0, duration=0.4, pause=0.1,
               strokes=3, thickness=0.02, color=(0, 0, 0))
    assert sw.spans() == [pytest.approx((0.2, 0.6)), pytest.approx((0.7, 1.1)), pytest.approx((1.2, 1.6))]
    deg = lambda t: float(np.degrees(sw.angle(t)))   # noqa: E731
    assert deg(0.0) == pytest.approx(160.0) and deg(0.6) == pytest.approx(20.0) and deg(0.65) == pytest.approx(20.0)
    assert deg(0.4) == pytest.approx(90.0) and deg(1.1) == pytest.approx(160.0) and deg(1.6) == pytest.approx(20.0)
    step = 1e-3
    for end in (0.6, 1.1):   # at rest at the end of a stroke; fastest in its middle
        assert abs(deg(end) - deg(end - step)) < 0.01 < 0.5 < abs(deg(0.4) - deg(0.4 - step))
    world = World(fps=25.0, seconds=0.5, texture="flat", swings=[sw])
    rgb, truth = frames(world)
    assert truth.swipes == sw.spans() and truth.impacts == []
    k = 5   # t = 0.2 s: the blade at 160 degrees; its middle is dark
    a = np.radians(160.0)
    x, y = (0.5 + 0.2 * np.cos(a)) * 480, (0.5 - 0.2 * np.sin(a)) * 480
    assert rgb[k][int(round(y)), int(round(x))].max() < 40


def test_cut_makes_no_impact(tmp_path):
    world = World(fps=24.0, seconds=2.0, cut_s=1.0, grain=3.0,
                  balls=[Ball(0.0, 0.6, 0.85 - 0.07, radius=0.07)])
    render(tmp_path / "cut.mp4", world)
    det = detect(tmp_path / "cut.mp4", 2.0)
    assert len(det.cuts) == 1 and abs(det.cuts[0] - 1.0) <= 1 / 24
    assert contacts(det) == []


@pytest.mark.parametrize("fps", [25.0, 60.0])
def test_cut_between_two_pictures_of_one_look(tmp_path, fps):
    """A hand-held camera over a noise texture, cut to another noise texture of the same look: every frame
    differs from the last about as much as at the cut, and the histogram does not change, so neither spikes;
    the picture alone shows the cut (every block's picture changes at once)."""
    world = World(fps=fps, seconds=2.0, cut_s=1.0, shake=0.01, texture="noise", grain=3.0)
    render(tmp_path / "cut.mp4", world)
    det = detect(tmp_path / "cut.mp4", 2.0)
    assert len(det.cuts) == 1 and abs(det.cuts[0] - 1.0) <= 1 / fps
    assert contacts(det) == []


def test_flash_at_its_first_frame(tmp_path):
    """A muzzle-flash-like burst (a small patch lit for two frames in a still, dark scene) is one impact at
    the first frame that shows it."""
    fps, n = 25.0, 50
    rgb = []
    rng = np.random.default_rng(3)
    base = rng.integers(20, 60, size=(270, 480, 3)).astype(np.uint8)
    for i in range(n):
        f = base.copy()
        if i in (30, 31):
            f[120:150, 300:340] = 250 if i == 30 else 160
        rgb.append(f)
    encode(tmp_path / "flash.mp4", rgb, fps)
    found = contacts(detect(tmp_path / "flash.mp4", n / fps))
    assert len(found) == 1, [e.time_s for e in found]
    assert abs(found[0].time_s - 30 / fps) <= 0.5 / fps
    assert found[0].extra.get("cue") == "flash"
    assert abs(found[0].x - 320 / 480) < 0.1


@pytest.mark.parametrize("kind, fps, shake", [("lamp_on", 25.0, 0.0), ("lamp_off", 30000 / 1001, 0.0),
                                               ("room", 24.0, 0.008), ("lightning", 60.0, 0.0),
                                               ("photo_flash", 25.0, 0.008), ("exposure", 30000 / 1001, 0.0),
                                               ("fireball", 25.0, 0.008), ("fireball", 60.0, 0.0)])
def test_light_changing_is_one_event_not_a_cut(tmp_path, kind, fps, shake):
    """A lamp switched on or off, a room's light switched on (also under a hand-held camera): the picture
    changes at once, as at a cut, but stays the same picture: one "light" event at the first frame in the new
    light (the switch's click), where the light changed, and no cut (no new shot). Lightning and a
    photographer's flash light the whole frame for a moment: one flash at its first frame, at the frame's
    centre. A fireball bursting, growing, fading to boiling smoke: one burst at its first frame, at its
    centre, and nothing of its spreading light and smoke. The camera's exposure opening slowly: nothing."""
    frames_, k0 = lit_frames(kind, fps, seed=3, shake=shake)
    encode(tmp_path / "light.mp4", frames_, fps)
    det = detect(tmp_path / "light.mp4", len(frames_) / fps)
    assert det.cuts == []
    found = contacts(det)
    if k0 is None:
        assert found == []
        return
    assert len(found) == 1, [(e.time_s * fps, e.extra) for e in found]
    cue = {"lightning": "flash", "photo_flash": "flash", "fireball": "burst"}.get(kind, "light")
    assert found[0].extra.get("cue") == cue
    assert abs(found[0].time_s * fps - k0) <= 0.5
    want = {"lamp_on": (0.25, 0.55), "lamp_off": (0.75, 0.37), "fireball": (0.58, 0.52)}.get(kind, (0.5, 0.5))
    assert abs(found[0].x - want[0]) < 0.1 and abs(found[0].y - want[1]) < 0.1


def test_flash_needs_a_still_neighbourhood():
    """A bright object moving into a cell changes the cells it came from first (one or, fast, two cells
    away): no flash."""
    n = 10
    times = np.arange(n) / 30.0
    rise = np.zeros((n, 4, 8))
    energy = np.zeros((n, 4, 8))
    rise[5, 1, 4] = 0.8
    energy[5, 1, 4] = 0.1
    assert find_flashes(rise, energy, times) == [(5, 1, 4)]
    energy[4, 1, 3] = 0.1   # the neighbour changed just before: something moved in
    assert find_flashes(rise, energy, times) == []
    energy[4, 1, 3] = 0.0
    energy[4, 1, 2] = 0.1   # two cells away: a fast swipe that crossed a whole cell in one interval
    assert find_flashes(rise, energy, times) == []
    energy[4, 1, 2] = 0.0
    energy[4, 1, 1] = 0.1   # three cells away: something else moving in the picture
    assert find_flashes(rise, energy, times) == [(5, 1, 4)]


def test_one_event_per_contact():
    """An approach hiccup one frame before the real stop, approaching the same way, is merged into it (the
    later is kept even when weaker); a weak stop the other way after a strike is its recoil; a weaker one
    the same way is the next bounce."""
    down, up = np.array([0.0, 1.0]), np.array([0.0, -1.0])

    def cand(t, score, u):
        return (score, {"time_s": t, "stop_s": t, "u": u, "dt_s": 1 / 30})

    kept = mask_recoils([cand(1.0, 1.0, down), cand(1.033, 0.3, down), cand(1.2, 0.1, up), cand(1.35, 0.3, down)])
    assert [round(e["time_s"], 3) for _, e in kept] == [1.033, 1.35]


def test_shake_at_60_fps_makes_no_impact(tmp_path):
    """At 60 fps the flow's jitter under a shaking camera is a pixel or so per interval, more than the
    slowest approach per second allows per interval: an approach must move more than that (without that
    floor this scene gave 16 impacts in 2 s)."""
    render(tmp_path / "shake60.mp4", World(fps=60.0, seconds=2.0, shake=0.008, texture="noise"))
    assert contacts(detect(tmp_path / "shake60.mp4", 2.0)) == []


def test_bar_sweeping_out_of_the_frame_makes_no_impact(tmp_path):
    """A plain bar that leaves the frame by its left edge while a ball drops: its difference keeps moving
    on through the flow's 'stop' and is gone from the border after, so it left (before, an impact at
    0.96 s); the ball's landing is found."""
    world = World(fps=25.0, seconds=1.6, seed=911857,
                  bars=[Bar(0.64, speed=-3.14)],
                  balls=[Ball(0.88, 0.89, 0.29, vy=0.23, radius=0.074, restitution=0.51, texture="flat",
                              color=(106, 224, 86), seed=701568)])
    truth = render(tmp_path / "out.mp4", world)
    found = contacts(detect(tmp_path / "out.mp4", 1.6))
    a, b = truth.swipes[0]
    true = [t for t, _, _ in truth.impacts]
    on_swipe = [e.time_s for e in found if a <= e.time_s <= b and all(abs(e.time_s - t) > 1 / 25 for t in true)]
    assert on_swipe == []
    assert any(abs(e.time_s - true[0]) <= 1 / 25 for e in found), ([e.time_s for e in found], true)


def test_blurred_bar_leaving_the_frame_makes_no_impact(tmp_path):
    """A bar blurred by a 180-degree shutter leaves the frame by its right edge: in the last column of cells
    its difference first keeps a third of its mass, then is gone, so it left (before, an impact at 2.36 s,
    its flow 'stopping' at the edge); the ball's two landings are found."""
    world = World(fps=24.0, seconds=3.0, seed=979596, texture="noise", grain=2.8, shutter=0.5,
                  bars=[Bar(1.955, speed=2.46)],
                  balls=[Ball(0.529, 0.824, 0.298, vy=0.199, radius=0.081, restitution=0.38, texture="stripes",
                              color=(85, 124, 81), seed=544050)])
    truth = render(tmp_path / "blurred.mp4", world)
    found = contacts(detect(tmp_path / "blurred.mp4", 3.0))
    a, b = truth.swipes[0]
    assert [e.time_s for e in found if a <= e.time_s <= b] == []
    assert all(any(abs(e.time_s - t) <= 1 / 24 for e in found) for t, _, _ in truth.impacts), \
        ([e.time_s for e in found], truth.impacts)


@pytest.mark.parametrize("bars", [[], [Bar(0.2, speed=1.2)]])
def test_frame_rate_conversion_makes_no_stop(tmp_path, bars):
    """25 fps pictures shown at 30 fps repeat every 5th frame. A repeat, or the motion shared over it,
    looks like a stop of everything moving; the repeats are dropped, so a bar swiping across and a falling
    ball make no stop in the air, and the ball's landing is still found (within one source frame: the
    conversion itself shifts a picture by up to one display frame)."""
    world = World(fps=25.0, seconds=3.0, bars=bars,
                  balls=[Ball(0.75, 0.5, 0.1, radius=0.07, restitution=0.5, texture="checker")])
    rgb, truth = frames(world)
    shown = [rgb[min(len(rgb) - 1, int(i * 25 / 30 + 1e-9))] for i in range(int(world.seconds * 30))]
    encode(tmp_path / "converted.mp4", shown, 30.0)
    found = [e.time_s for e in contacts(detect(tmp_path / "converted.mp4", world.seconds))]
    landings = [t for t, _, _ in truth.impacts]
    assert [t for t in found if min(abs(t - c) for c in landings) > 0.1] == [], (found, landings)
    assert min(abs(t - landings[0]) for t in found) <= 1.0 / 25 + 1.0 / 30, (found, landings)
