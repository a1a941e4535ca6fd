"""Python API in the style of HunyuanVideo-Foley::

    import bridge
    project = bridge.load("input.mp4")
    result = project.generate_foley(enable_spatial_audio=True, match_precision="high",
                                    background_music_suppression=0.3)
    result.export("output_with_foley.mp4")   # video stream copied, new mix as its audio
    result.events, result.timeline, result.write("elsewhere/")
"""
from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

from bridge.errors import InputError, OutputError
from bridge.event import Event
from bridge.options import Options
from bridge.pipeline import Engine, FoleyResult
from bridge.request import Item, Request

_engines: dict[tuple, Engine] = {}
_engines_lock = threading.Lock()


def shared_engine(device: str = "auto", backends: Sequence[str] = ("auto",), cold_start: bool = False) -> Engine:
    """One engine per (device, backends) per process: models load once, as in the daemon.

    ``cold_start`` (one-shot command-line runs) analyses the first video in a forked process while
    the models load."""
    key = (device, tuple(backends))
    with _engines_lock:
        if key not in _engines:
            _engines[key] = Engine(device=device, backends=backends, cold_start=cold_start)
        return _engines[key]


class Result:
    """A finished job: its events, OTIO timeline and output folder."""

    def __init__(self, foley: FoleyResult, video: str) -> None:
        self._foley = foley
        self.video = video

    @property
    def events(self) -> list[Event]:
        return self._foley.events

    @property
    def timeline(self) -> Any:
        return self._foley.timeline

    @property
    def output_dir(self) -> Path:
        return self._foley.output_dir

    @property
    def result(self) -> dict[str, Any]:
        return self._foley.result

    @property
    def mix_path(self) -> Path:
        return self.output_dir / "mix.wav"

    def write(self, directory: str | Path) -> Path:
        """Copy the whole output folder to ``directory``, with the timeline and result pointing at the copy.

        Written beside ``directory`` under a temporary name, then renamed into place.
        """
        import json

        import opentimelineio as otio

        from bridge.timeline import placements_from_timeline

        dest = Path(directory).absolute()
        if dest.exists():
            raise OutputError(f"{str(dest)!r} already exists; choose a new folder")
        if not dest.parent.is_dir():
            raise OutputError(f"cannot write {str(dest)!r}: its folder does not exist")
        import tempfile

        work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
        tmp = work / dest.name
        try:
            shutil.copytree(self.output_dir, tmp)
            timeline = otio.adapters.read_from_file(str(tmp / "foley.otio"))
            for clip in timeline.find_clips():
                clip.media_reference.target_url = (dest / clip.metadata["foley_bridge"]["clip"]).as_uri()
            otio.adapters.write_to_file(timeline, str(tmp / "foley.otio"))
            result = dict(self.result)
            old = str(self.output_dir)
            for key in ("otio", "events", "output_dir", "mix"):
                result[key] = str(result[key]).replace(old, str(dest), 1)
            result["exports"] = [e.replace(old, str(dest), 1) for e in result.get("exports", [])]
            result["placements"] = placements_from_timeline(timeline)
            (tmp / "result.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
            tmp.replace(dest)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return dest

    def export(self, path: str | Path) -> Path:
        """Write the source video with the new mix as its audio (video stream copied, not re-encoded)."""
        from bridge.export import export_video

        return export_video(self.video, self.mix_path, Path(path), self._foley.sources[0])


class Project:
    """A video opened for Foley generation."""

    def __init__(self, video: str | Path, device: str = "auto", backends: Sequence[str] = ("auto",),
                 engine: Engine | None = None, cold_start: bool = False) -> None:
        from models.video import probe

        self.video = str(Path(video).absolute())
        self.info = probe(self.video)
        self._engine = engine
        self._device = device
        self._backends = tuple(backends)
        self._cold_start = cold_start

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = shared_engine(self._device, self._backends, self._cold_start)
        return self._engine

    def generate(self, options: Options, span: tuple[float, float] | None = None,
                 output_dir: str | Path | None = None,
                 progress: Callable[[str, float], None] | None = None,
                 cancel: threading.Event | None = None) -> Result:
        """Run the job; ``cancel``, once set, stops it at its next stage (``Cancelled``, no output left)."""
        start, end = span if span is not None else (None, None)
        request = Request(items=[Item(path=self.video, source_in_s=start, source_out_s=end)],
                          options=options.validate(), output_dir=str(output_dir) if output_dir else None,
                          fps=self.info.fps)
        return Result(self.engine.run(request, progress=progress, cancel=cancel), self.video)

    def generate_foley(self, enable_spatial_audio: bool = True, match_precision: str = "normal",
                       background_music_suppression: float = 0.3, seed: int = 0,
                       output_dir: str | Path | None = None, start_s: float | None = None,
                       end_s: float | None = None, **options: Any) -> Result:
        """Find events and make their sounds. Extra keywords are :class:`bridge.options.Options` fields."""
        if match_precision not in ("normal", "high"):
            raise InputError(f"match_precision {match_precision!r} is not one of: normal, high")
        opts = Options.from_dict(dict(options, spatial=enable_spatial_audio, precision=match_precision,
                                      music_suppression=background_music_suppression, seed=seed))
        span = None
        if start_s is not None or end_s is not None:
            span = (start_s or 0.0, end_s if end_s is not None else self.info.duration_s)
        return self.generate(opts, span=span, output_dir=output_dir)


def load(video: str | Path, device: str = "auto") -> Project:
    """Open ``video``. Raises :class:`bridge.errors.InputError` when it is not a usable video."""
    return Project(video, device=device)
