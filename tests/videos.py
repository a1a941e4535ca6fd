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
