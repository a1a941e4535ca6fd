"""foley-bridge: frame-aligned Foley from picture, delivered as OpenTimelineIO.

The Python API mirrors HunyuanVideo-Foley's::

    import bridge
    result = bridge.load("input.mp4").generate_foley(
        enable_spatial_audio=True, match_precision="high", background_music_suppression=0.3)
    result.export("output_with_foley.mp4")
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load"]


def load(video: str, **kwargs):  # noqa: ANN201 - re-exported, typed in bridge.api
    """Open a video for Foley generation; see :func:`bridge.api.load`."""
    from bridge.api import load as _load

    return _load(video, **kwargs)
