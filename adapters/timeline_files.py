"""Timeline files (.otio, FCP7 .xml, .aaf) read into a job Request through OTIO's adapters.

Each enabled video clip with a file reference becomes one Item: its media path, the used span in
media time (first frame = 0, i.e. relative to the media's available range) and where it starts on
the timeline (``timeline_start_s`` + its position on the track).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bridge.errors import InputError
from bridge.options import Options
from bridge.request import Item, Request

log = logging.getLogger("foley.timeline_files")

#: Adapter per file suffix (the AAF adapter needs otio-aaf-adapter, FCP7 XML otio-fcp-adapter).
ADAPTERS = {".otio": "otio_json", ".xml": "fcp_xml", ".aaf": "AAF"}


def read_timeline(path: str | Path) -> Any:
    """Read a timeline file; InputError names the file and what is wrong with it."""
    import opentimelineio as otio

    path = Path(path)
    adapter = ADAPTERS.get(path.suffix.lower())
    if adapter is None:
        raise InputError(f"{path.name!r} is not a timeline file; use one of: {', '.join(ADAPTERS)}")
    if not path.is_file():
        raise InputError(f"timeline file {str(path)!r} does not exist")
    try:
        result = otio.adapters.read_from_file(str(path), adapter_name=adapter)
    except Exception as exc:  # adapters raise assorted types; name the file and the cause
        raise InputError(f"cannot read timeline {str(path)!r} ({adapter}): {type(exc).__name__}: {exc}") from None
    if isinstance(result, otio.schema.SerializableCollection):
        timelines = list(result.find_children(descended_from_type=otio.schema.Timeline))
        if not timelines:
            raise InputError(f"timeline file {str(path)!r} holds no timeline")
        result = timelines[0]
    if not isinstance(result, otio.schema.Timeline):
        raise InputError(f"timeline file {str(path)!r} holds a {type(result).__name__}, not a timeline")
    return result


def media_path(url: str, base: Path) -> str:
    """A reference's ``target_url`` as an absolute file path (relative paths are from ``base``)."""
    import opentimelineio as otio

    path = otio.url_utils.filepath_from_url(url) if url.startswith("file:") else url
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else base / p)


def shots_from_timeline(timeline: Any, base: Path) -> tuple[list[tuple[str, Item]], float | None]:
    """The video clips of ``timeline`` as (clip name, Item) shots, sorted by record time, and the picture
    rate. Each shot is one clip: its media path, used span in media time and record position."""
    import opentimelineio as otio

    start = timeline.global_start_time.to_seconds() if timeline.global_start_time is not None else 0.0
    shots: list[tuple[str, Item]] = []
    rate = None
    for track in timeline.video_tracks():
        if not track.enabled:
            continue
        for clip in track.find_clips():
            ref = clip.media_reference
            if not clip.enabled or not isinstance(ref, otio.schema.ExternalReference) or not ref.target_url:
                log.info("skipped clip %r: no enabled file reference", clip.name)
                continue
            used = clip.trimmed_range()
            origin = ref.available_range.start_time if ref.available_range is not None else None
            src_in = used.start_time - origin if origin is not None else used.start_time
            record = clip.transformed_time(used.start_time, track) - track.trimmed_range().start_time
            rate = rate or used.duration.rate
            shots.append((clip.name or "", Item(path=media_path(ref.target_url, base),
                                                source_in_s=src_in.to_seconds(),
                                                source_out_s=(src_in + used.duration).to_seconds(),
                                                record_in_s=start + record.to_seconds())))
    shots.sort(key=lambda s: (s[1].record_in_s, s[1].path))
    return shots, rate


def items_from_timeline(timeline: Any, base: Path) -> tuple[list[Item], float | None]:
    """The video clips of ``timeline`` as Items (sorted by record time) and the picture rate."""
    shots, rate = shots_from_timeline(timeline, base)
    return [item for _, item in shots], rate


def read_timeline_request(path: str | Path, options: dict[str, Any] | None = None) -> Request:
    """A Request covering every video clip of the timeline file at ``path``."""
    path = Path(path).absolute()
    timeline = read_timeline(path)
    items, rate = items_from_timeline(timeline, path.parent)
    if not items:
        raise InputError(f"timeline {str(path)!r} has no enabled video clips that refer to media files")
    start = timeline.global_start_time.to_seconds() if timeline.global_start_time is not None else 0.0
    return Request(items=items, options=Options.from_dict(options), fps=rate, timeline_start_s=start,
                   host="timeline", name=timeline.name or path.stem)
