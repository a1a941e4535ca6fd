"""Colour frames at chosen times: the frame shown at each time, in the order asked, upright."""
from __future__ import annotations

from pathlib import Path

import pytest

from models.stills import rgb_frames
from models.video import probe
from videos import counter_video

FPS = 25


@pytest.fixture(scope="module")
def counter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Frame k is a flat gray of level 4*k (k = 0..49), so a frame's level tells its index."""
    return counter_video(tmp_path_factory.mktemp("v") / "counter.mp4", frames=50, step=4, fps=FPS, gop=10)


def test_frames_at_times_in_the_order_asked(counter: Path) -> None:
    info = probe(str(counter))
    times = [1.51, 0.0, 0.41, 1.96, 0.04, 5.0]
    got = rgb_frames(info, times, width=80)
    assert len(got) == 5  # 5.0 s is past the end
    for t_asked, (t, img) in zip(times, got):
        k = round(t_asked * FPS)
        assert t == pytest.approx(k / FPS, abs=1e-6)
        assert img.shape == (48, 80, 3) and img.flags["C_CONTIGUOUS"]
        assert abs(float(img.mean()) - 4 * k) < 2.5
