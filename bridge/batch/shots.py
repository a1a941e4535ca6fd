"""What a batch is made of: the shots of a timeline (one per video clip) or the videos of a folder.

A shot is one ``foley run``: a video, an optional span of it (media seconds) and, for a timeline, where the
span sits on the reel. Each shot writes ``OUTDIR/<shot name>/``; names are unique and safe as folder names.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bridge.errors import InputError
from bridge.options import Options
from bridge.outdir import MARKER, foreign_entry, safe_name


@dataclass
class Shot:
    name: str
    path: str
    source_in_s: float | None = None
    source_out_s: float | None = None
    record_in_s: float | None = None  # reel seconds (timeline start included); None for a folder's videos

    @property
    def span(self) -> tuple[float, float] | None:
        """The ``--range`` a single ``foley run`` of this shot takes."""
        if self.source_in_s is None or self.source_out_s is None:
            return None
        return (self.source_in_s, self.source_out_s)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Shot":
        return cls(**data)


@dataclass
class Reel:
    """The batch input: a timeline's shots on their record positions, or a folder's videos."""

    source: Path
    kind: str  # "timeline" or "folder"
    name: str
    shots: list[Shot] = field(default_factory=list)
    fps: float | None = None
    timeline_start_s: float = 0.0

    @property
    def is_timeline(self) -> bool:
        return self.kind == "timeline"


def read_reel(source: str | Path) -> Reel:
    """A timeline file split into its shots, or a folder's videos; InputError when it is neither."""
    from bridge.daemon.watch import TIMELINE_SUFFIXES, VIDEO_SUFFIXES, is_partial_name

    path = Path(source).absolute()
    if path.is_dir():
        videos = sorted(p for p in path.iterdir()
                        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and not is_partial_name(p.name))
        if not videos:
            raise InputError(f"folder {str(path)!r} holds no videos ({', '.join(sorted(VIDEO_SUFFIXES))})")
        stems = [p.stem for p in videos]
        names = [safe_name(p.stem if stems.count(p.stem) == 1 else p.name, "shot") for p in videos]
        return Reel(source=path, kind="folder", name=path.name,
                    shots=[Shot(name=n, path=str(p)) for n, p in zip(_unique(names), videos)])
    if path.suffix.lower() not in TIMELINE_SUFFIXES:
        raise InputError(f"{str(source)!r} is neither a timeline file ({', '.join(sorted(TIMELINE_SUFFIXES))}) "
                         "nor a folder of videos")
    from adapters.timeline_files import read_timeline, shots_from_timeline

    timeline = read_timeline(path)
    clips, rate = shots_from_timeline(timeline, path.parent)
    if not clips:
        raise InputError(f"timeline {str(path)!r} has no enabled video clips that refer to media files")
    width = max(3, len(str(len(clips))))
    names = [f"{n:0{width}d}_{safe_name(clip or Path(item.path).stem, 'shot')}" for n, (clip, item) in
             enumerate(clips, start=1)]
    start = timeline.global_start_time.to_seconds() if timeline.global_start_time is not None else 0.0
    shots = [Shot(name=n, path=item.path, source_in_s=item.source_in_s, source_out_s=item.source_out_s,
                  record_in_s=item.record_in_s) for n, (_, item) in zip(names, clips)]
    return Reel(source=path, kind="timeline", name=timeline.name or path.stem, shots=shots, fps=rate,
                timeline_start_s=start)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return out


def is_complete(folder: Path, shot: Shot, options: Options) -> bool:
    """True when ``folder`` holds a whole result of this shot made with these options: every entry its marker
    lists is there, nothing else is, and events.json names the same video, span and options."""
    if folder.is_symlink() or not folder.is_dir() or foreign_entry(folder) is not None:
        return False
    try:
        listed = json.loads((folder / MARKER).read_text(encoding="utf-8"))["files"]
        doc = json.loads((folder / "events.json").read_text(encoding="utf-8"))
        source = doc["sources"][0]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return False
    if not all((folder / name).exists() for name in listed) or "result.json" not in listed:
        return False
    if doc.get("options") != json.loads(json.dumps(options.to_dict())) or len(doc["sources"]) != 1:
        return False
    if Path(str(source.get("path"))) != Path(shot.path):
        return False
    span, done = shot.span, source.get("range_s")
    if span is None:
        return True
    tol = 1.0 / float(source.get("fps") or 1000.0)  # the engine clips the end to the media's last frame
    return isinstance(done, list) and len(done) == 2 and all(abs(a - b) <= tol for a, b in zip(done, span))
