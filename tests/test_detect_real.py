"""Impact detection on real footage, scored against onsets of each clip's own soundtrack.

Skipped when the shared media folder is absent. Thresholds are the measured scores (docs/detection.md)
minus a small margin, so a change that loses real events fails here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.detect import EventDetector, repeated_frames
from models.onset_eval import audio_onsets, best_lag, scores
from models.video import probe

VIDEO = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "video"

pytestmark = [pytest.mark.media,
              pytest.mark.skipif(not VIDEO.is_dir(), reason="shared real footage is absent")]


def clip(name: str) -> Path:
    path = VIDEO / f"{name}.mp4"
    if not path.exists():
        pytest.skip(f"{path.name} is absent")
    return path


def onsets_of(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(visual impact and footstep onsets, soundtrack onsets) of a whole clip."""
    info = probe(str(path))
    det = EventDetector().detect(info, 0.0, info.duration_s)
    vis = np.asarray(sorted(e.time_s for e in det.events if e.kind in ("impact", "footstep")))
    return vis, audio_onsets(str(path))


def test_hitting_bag_strikes_within_50_ms():
    """15 fps drumstick strikes on a bag: 7 of 8 strikes within 50 ms, few extras (measured F1 0.78; the
    strike at 0.85 s is 56 ms before its sound, now that the reference is timed with the shorter window)."""
    vis, aud = onsets_of(clip("condfoleygen_hitting_bag"))
    s = scores(vis, aud, 0.05)
    assert len(aud) == 8
    assert s["recall"] >= 7 / 8, (vis, aud)
    assert s["f1"] >= 0.74, (s, vis, aud)
    assert abs(s["offset_ms"]) <= 15.0


def test_chopping_every_chop_once():
    """A knife through cabbage onto a board (25 fps shown at 30 fps with repeated frames): one visual onset
    per chop within 100 ms and no lifts (measured F1@100 0.94); the knife stops in the cabbage a little
    before it hits the board: following its residual sinking to the end brings about half the chops within
    50 ms (measured F1@50 0.62, was 0.44; median over all chops -39 ms, was -56 ms)."""
    path = clip("condfoleygen_chopping")
    vis, aud = onsets_of(path)
    s100 = scores(vis, aud, 0.1)
    assert s100["f1"] >= 0.9, (s100, vis, aud)
    assert -60.0 <= s100["offset_ms"] <= 0.0
    assert scores(vis, aud, 0.05)["f1"] >= 0.48, (vis, aud)   # measured 0.52 (reference timed 8 ms later)


def test_chopping_repeated_frames_are_found():
    """The clip repeats every 6th frame (25 -> 30 fps); those frames are found, and only those."""
    info = probe(str(clip("condfoleygen_chopping")))
    feats = EventDetector().features(info, 0.0, info.duration_s)
    reps = repeated_frames(feats.arrays()["diff"])
    assert len(reps) >= 30
    gaps = np.diff(reps)
    assert np.mean(gaps == 6) >= 0.8, reps


def test_hammer_strikes_found_with_the_clips_sound_late():
    """Hammer on a spoon (24 fps): the picture shows the head on the spoon about 0.1 s before each sound
    onset (the clip's sound is late), so the score at 50 ms is low; with the clip's best constant lag
    removed most strikes match (measured F1@50 0.60 at -80 ms; F1@100 0.60 without lag)."""
    vis, aud = onsets_of(clip("specvqgan_vas_videos_hammer_video_00323"))
    lag, s = best_lag(vis, aud, 0.05)
    assert -0.15 <= lag <= -0.05, lag
    assert s["f1"] >= 0.55, (lag, s)   # measured 0.59
    assert scores(vis, aud, 0.1)["f1"] >= 0.35   # measured 0.39
