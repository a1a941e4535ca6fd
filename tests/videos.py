"""Synthetic test videos with known events (a thin wrapper over bridge.demo_video for the tests)."""
from __future__ import annotations

from pathlib import Path

from bridge.demo_video import DemoTruth, Mover, SceneSpec, drop, make_demo_video, render_scene, walk

__all__ = ["DemoTruth", "Mover", "SceneSpec", "drop", "make_demo_video", "render_scene", "walk", "MEDIA",
           "scene"]

#: The shared real footage (absent in a fresh clone: tests that need it skip).
MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


def scene(path: Path, movers: list[Mover], seconds: float = 2.5, fps: float = 30.0, width: int = 640,
          height: int = 360, cut_s: float | None = None, codec: str = "libx264") -> DemoTruth:
    """Render a scene of ``movers`` to ``path`` and return its truth."""
    spec = SceneSpec(width=width, height=height, fps=fps, seconds=seconds, movers=movers, cut_s=cut_s, codec=codec)
    return render_scene(path, spec)


def counter_video(path: Path, frames: int, step: int, fps: int = 25, gop: int = 10) -> Path:
    """Frame k is a flat gray of level ``step * k``, so a decoded frame's level tells its index (lossless)."""
    import av
    import numpy as np

    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps, options={"crf": "0", "g": str(gop)})
        vs.width, vs.height, vs.pix_fmt = 160, 96, "yuv444p"
        for k in range(frames):
            img = np.full((96, 160, 3), step * k, np.uint8)
            for packet in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    return path
