"""Colour frames at chosen times: the frame shown at each time, in the order asked, upright."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from models.stills import rgb_frames
from models.video import probe

FPS = 25


@pytest.fixture(scope="module")
def counter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Frame k is a flat gray of level 4*k (k = 0..49), so a frame's level tells its index."""
    path = tmp_path_factory.mktemp("v") / "counter.mp4"
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=FPS, options={"crf": "0", "g": "10"})
        vs.width, vs.height, vs.pix_fmt = 160, 96, "yuv444p"
        for k in range(50):
            img = np.full((96, 160, 3), 4 * k, np.uint8)
            for packet in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    return path


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
