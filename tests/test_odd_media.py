"""Odd but real media: streams that start at a non-zero time, files cut short or damaged, phone video
with a display rotation, narrow frames. Every case is decoded for real (PyAV) and run through the CLI."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bridge.errors import InputError
from foley_cli import run
from models.video import iter_gray_frames, probe
from odd_media import click_time, clip, damage, faststart, flash_time, truncate


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("odd")


@pytest.mark.parametrize("suffix", [".ts", ".mkv"])
def test_export_is_in_sync_when_the_stream_starts_at_ten_seconds(media: Path, tmp_path: Path, suffix: str) -> None:
    video = clip(media / f"late{suffix}", seconds=2.0, start_s=10.0, flash_s=1.0)
    info = probe(str(video))
    assert info.start_s == pytest.approx(10.0, abs=0.05)
    assert info.duration_s == pytest.approx(2.0, abs=0.1)  # MKV read 12 s: its duration counts from 0
    out = tmp_path / f"exp{suffix}.mp4"
    done = run("run", str(video), "-o", str(tmp_path / "res"), "--export-video", str(out))
    assert done.returncode == 0, done.stderr
    picture, sound = flash_time(out), click_time(out)
    assert picture == pytest.approx(1.0, abs=0.05)
    assert sound == pytest.approx(picture, abs=0.05), f"audio at {sound:.3f}s, picture at {picture:.3f}s"


@pytest.mark.parametrize("kind", ["mkv", "faststart-mp4"])
def test_a_file_cut_in_half_is_refused_with_the_numbers(media: Path, kind: str) -> None:
    whole = clip(media / "whole.mkv", seconds=4.0) if kind == "mkv" else \
        faststart(clip(media / "whole.mp4", seconds=4.0), media / "whole-fs.mp4")
    cut = truncate(whole, media / f"cut-{kind}{whole.suffix}", 0.5)
    out = run("run", str(cut), "-o", str(media / f"out-{kind}"))
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = [x for x in out.stderr.splitlines() if x.startswith("foley: ")]  # model libraries log too
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    line = lines[0]
    assert "cut short" in line and "4.0" in line, line
    stop = float(re.search(r"stop at ([0-9.]+)s", line).group(1))
    assert 0.0 < stop < 3.0
    assert not (media / f"out-{kind}").exists()


def test_a_soundtrack_longer_than_the_pictures_is_not_taken_for_a_cut(media: Path) -> None:
    video = clip(media / "longsound.mkv", seconds=2.0, audio_s=3.5)
    info = probe(str(video))
    frames = list(iter_gray_frames(info, prefetch=0))
    assert len(frames) == 50 and info.duration_s > 3.0


def test_damage_is_reported_where_it_is(media: Path) -> None:
    whole = faststart(clip(media / "long.mp4", seconds=4.0), media / "long-fs.mp4")
    seen = []
    for at in (0.55, 0.65, 0.75, 0.85):
        bad = damage(whole, media / f"bad-{at}.mp4", at)
        try:
            list(iter_gray_frames(probe(str(bad)), prefetch=0))
        except InputError as exc:
            seen.append(str(exc))
    assert seen, "no damaged copy failed to decode"
    for message in seen:
        near = re.search(r"near ([0-9.]+)s|stop at ([0-9.]+)s", message)
        assert near, message
        assert float(near.group(1) or near.group(2)) > 0.5, message  # not "near 0.00s"


def encode_rotated(path: Path, frames: list[np.ndarray], rate: int) -> None:
    """RGB ``frames`` as H.264 stored as given, with a 90-degree display rotation (a phone held upright)."""
    import av

    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=rate)
        vs.height, vs.width = frames[0].shape[:2]
        vs.pix_fmt = "yuv420p"
        vs.options = {"preset": "ultrafast"}
        vs.set_display_rotation(90)
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)


def test_rotated_phone_video_is_read_upright(media: Path) -> None:
    """Stored 160x96 landscape with a 90-degree display rotation: a portrait 96x160 picture."""

    path = media / "phone.mp4"
    n, w, h = 10, 160, 96
    img = np.full((h, w, 3), 10, dtype=np.uint8)
    img[:16, :16] = 255  # stored top-left corner
    encode_rotated(path, [img] * n, rate=25)
    info = probe(str(path))
    assert (info.width, info.height, info.rotation) == (96, 160, 90)
    t, gray = next(iter(iter_gray_frames(info, prefetch=0)))
    assert gray.shape == (160, 96)
    # Turned 90 degrees counterclockwise, the stored top-left corner shows at the bottom left.
    assert gray[-12:, :12].mean() > 200 and gray[:12, :12].mean() < 60
    assert gray[:12, -12:].mean() < 60 and gray[-12:, -12:].mean() < 60


def test_rotated_phone_video_places_events_where_they_are_seen(media: Path) -> None:
    """The same scene, stored turned 90 degrees clockwise with a display rotation that turns it back:
    an impact at the right of the picture is found at the right (x) and near the floor (y)."""
    import av

    from models.detect import EventDetector
    from videos import Mover, drop, scene

    upright_path = media / "scene.mp4"
    truth = scene(upright_path, [Mover(drop(0.75, 0.1, 0.8), seed=3)], seconds=1.6, width=320, height=180)
    stored = media / "scene-rotated.mp4"
    with av.open(str(upright_path)) as src:
        turned = [np.ascontiguousarray(np.rot90(f.to_ndarray(format="rgb24"), -1)) for f in src.decode(video=0)]
    encode_rotated(stored, turned, rate=30)
    info = probe(str(stored))
    assert (info.width, info.height) == (320, 180)
    hits = [e for e in EventDetector().detect(info, 0.0, info.duration_s).events if e.kind == "impact"]
    t_hit, x, y = truth.impacts[0]
    near = [e for e in hits if abs(e.time_s - t_hit) < 0.1]
    assert near, (truth.impacts, [(e.time_s, e.x, e.y) for e in hits])
    assert near[0].x == pytest.approx(x, abs=0.12) and near[0].y == pytest.approx(y, abs=0.15)


def test_narrow_video_runs(media: Path, tmp_path: Path) -> None:
    video = clip(media / "narrow.mp4", seconds=2.0, width=97, height=61, codec="mpeg4")
    frames = list(iter_gray_frames(probe(str(video)), prefetch=0))
    assert frames and all(g.flags["C_CONTIGUOUS"] for _, g in frames)
    out = run("run", str(video), "-o", str(tmp_path / "narrow"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "narrow" / "events.json").is_file()
