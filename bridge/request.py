"""A job request: which pieces of which videos, placed where on a timeline.

The same shape serves the CLI (one item), the OSC daemon and the host scripts::

    {"version": 1, "host": "reaper", "fps": 25, "timeline_start_s": 0,
     "items": [{"path": "/v/a.mov", "source_in_s": 1.0, "source_out_s": 4.0, "record_in_s": 10.0}],
     "options": {...}, "output_dir": "/out/job"}
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bridge.errors import InputError
from bridge.options import Options


@dataclass
class Item:
    """A span of one video file and where it sits on the timeline (seconds)."""

    path: str
    source_in_s: float | None = None
    source_out_s: float | None = None
    record_in_s: float | None = None


@dataclass
class Request:
    items: list[Item]
    options: Options = field(default_factory=Options)
    output_dir: str | None = None
    fps: float | None = None
    timeline_start_s: float = 0.0
    host: str = "cli"
    name: str | None = None
    #: Re-checks the request's paths at the moment of use (the daemon's allowed folders); raises
    #: PermissionDenied. The engine calls it before it reads the videos and before the output swap.
    guard: Callable[["Request"], None] | None = field(default=None, repr=False, compare=False)

    def check_paths(self) -> None:
        if self.guard is not None:
            self.guard(self)


#: Largest magnitude a number in a request may have (about 31,700 years of seconds).
MAX_NUMBER = 1e12


def _finite(value: int | float) -> bool:
    return -MAX_NUMBER <= value <= MAX_NUMBER and math.isfinite(value)


def _num(value: Any, what: str, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
        raise InputError(f"{what} {value!r:.80} must be a finite number of seconds")
    return float(value)


def parse_request(data: Any) -> Request:
    """Validate a decoded JSON request. Raises InputError naming the first bad field."""
    if not isinstance(data, dict):
        raise InputError(f"request must be a JSON object, got {type(data).__name__}")
    version = data.get("version", 1)
    if version != 1:
        raise InputError(f"request version {version!r} is not supported; use 1")
    items_raw = data.get("items")
    if not isinstance(items_raw, list) or not items_raw:
        raise InputError("request needs a non-empty 'items' list of {path, source_in_s, source_out_s, record_in_s}")
    items = []
    for i, raw in enumerate(items_raw):
        if not isinstance(raw, dict) or not isinstance(raw.get("path"), str) or not raw["path"]:
            raise InputError(f"items[{i}] needs a 'path' string")
        items.append(Item(
            path=raw["path"],
            source_in_s=_num(raw.get("source_in_s"), f"items[{i}].source_in_s"),
            source_out_s=_num(raw.get("source_out_s"), f"items[{i}].source_out_s"),
            record_in_s=_num(raw.get("record_in_s"), f"items[{i}].record_in_s"),
        ))
    out = data.get("output_dir")
    if out is not None and not isinstance(out, str):
        raise InputError(f"output_dir {out!r} must be a path string")
    fps = _num(data.get("fps"), "fps")
    if fps is not None and fps <= 0:
        raise InputError(f"fps {fps!r} must be positive")
    host = data.get("host", "cli")
    if not isinstance(host, str):
        raise InputError(f"host {host!r} must be a string")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise InputError(f"name {name!r} must be a string")
    return Request(items=items, options=Options.from_dict(data.get("options")), output_dir=out, fps=fps,
                   timeline_start_s=_num(data.get("timeline_start_s", 0.0), "timeline_start_s") or 0.0,
                   host=host, name=name)


def decode_request_text(text: str) -> Any:
    """JSON text of a request, decoded; InputError when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"request is not valid JSON: {exc}") from None
    except (RecursionError, ValueError) as exc:  # nested too deep; an integer over Python's digit limit
        raise InputError(f"request JSON is nested too deeply or holds a number too long: {exc}"[:300]) from None


def read_request_file(path: Path, shown: str | None = None) -> Any:
    """A request file's decoded JSON; InputError naming the file (as ``shown``) when missing or unreadable."""
    shown = str(path) if shown is None else shown
    if not path.is_file():
        raise InputError(f"request file {shown!r} does not exist; send a JSON object or the path of one")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, RecursionError, ValueError) as exc:
        raise InputError(f"request file {shown!r} is not readable JSON: {exc}") from None


def load_request(text_or_path: str) -> Request:
    """Parse a request given as a JSON string or as the path of a JSON file."""
    text = text_or_path.strip()
    if text.startswith("{"):
        return parse_request(decode_request_text(text))
    return parse_request(read_request_file(Path(text), text))
