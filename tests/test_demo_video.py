"""The synthetic demo/test videos: real encodes, read back with PyAV, truth consistent with the picture."""
from __future__ import annotations

import numpy as np
import pytest

from bridge.demo_video import Mover, SceneSpec, drop, render_scene
from bridge.errors import OutputError
from models.video import iter_gray_frames, probe
from videos import make_demo_video


def test_demo_video_encodes_and_truth_is_complete(tmp_path):
    path = tmp_path / "demo.mp4"
    truth = make_demo_video(path)
    info = probe(str(path))
    assert (info.width, info.height, info.fps) == (640, 360, 30.0)
    assert info.frame_count == 180 and not info.has_audio
    assert len(truth.impacts) == 6 and truth.cuts == [3.9] and len(truth.swipes) == 1
    assert not list(tmp_path.glob(".*tmp*"))


def test_object_is_where_the_keys_say(tmp_path):
    path = tmp_path / "one.mp4"
    mover = Mover([(0.0, 0.25, 0.5), (1.0, 0.75, 0.5)], color=(250, 250, 250))
    render_scene(path, SceneSpec(seconds=1.0, movers=[mover], codec="mpeg4"))
    info = probe(str(path))
    frames = list(iter_gray_frames(info))
    assert len(frames) == 30
    first, last = frames[0][1].astype(int), frames[-1][1].astype(int)
    moved = np.abs(first - last).sum(axis=0)
    cols = np.flatnonzero(moved > moved.max() * 0.3) / first.shape[1]
    assert cols.min() < 0.35 and cols.max() > 0.62


def test_impact_truth_from_keys():
    keys = drop(0.5, 0.0, 0.5)
    hits = Mover(keys).impacts()
    assert [round(t, 6) for t, _, _ in hits][0] == 0.5 and len(hits) == 2  # landing and the bounce's landing
    assert Mover([(0.0, -0.2, 0.5), (1.0, 1.2, 0.5)]).impacts() == []  # crossing the frame is no impact


def test_unwritable_path_raises(tmp_path):
    with pytest.raises(OutputError, match="cannot write"):
        render_scene(tmp_path / "missing" / "x.mp4", SceneSpec(seconds=0.2))
