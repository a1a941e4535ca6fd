"""A tiny synthetic clip and the warm-up job that makes the first real job pay no load cost."""
from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("foley.warmup")


def write_clip(path: Path, seconds: float = 1.0, width: int = 160, height: int = 96, fps: int = 25,
               hit_s: float = 0.5) -> Path:
    """Encode a small H.264 clip: a bright block falls and stops dead on the floor at ``hit_s``.

    Written to a temp name and renamed, so a reader never sees a half-written file.
    """
    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part{path.suffix}")
    frames = max(2, int(round(seconds * fps)))
    block = max(4, height // 6)
    floor = height - block - 2
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
        for i in range(frames):
            t = i / fps
            img = np.full((height, width, 3), 40, dtype=np.uint8)
            img[floor + block:, :] = 90
            fall = min(t / hit_s, 1.0) if hit_s > 0 else 1.0
            top = int(round(2 + (floor - 2) * fall * fall))
            left = width // 2 - block // 2
            img[top:top + block, left:left + block] = 235
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)
    return path


def warm_up(engine: Any, work_dir: Path) -> float:
    """Run one tiny job through ``engine`` so detectors, backends and writers are loaded; returns seconds."""
    from bridge.request import Item, Request

    started = time.monotonic()
    clip = work_dir / "warmup.mp4"
    if not clip.exists():
        write_clip(clip)
    out_parent = Path(tempfile.mkdtemp(prefix="warmup-", dir=work_dir))
    try:
        engine.run(Request(items=[Item(path=str(clip))], output_dir=str(out_parent / "out"), name="warmup"))
    finally:
        shutil.rmtree(out_parent, ignore_errors=True)
    elapsed = time.monotonic() - started
    log.info("warm-up job took %.2f s", elapsed)
    return elapsed
