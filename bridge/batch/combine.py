"""One timeline for the whole reel: every shot's clips moved from the shot's media time to its record
position, so the result imports over the reel. Clips point at the WAVs inside the shots' folders, whose
BWF time reference stays the shot's own: each media range keeps starting there, only the clip's place on
its track moves."""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bridge.batch.shots import Reel, Shot

SAMPLE_RATE = 48000


def _plain(value: Any) -> Any:
    """OTIO metadata as plain Python values (they must outlive the timeline they were read from)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        return value
    return [_plain(v) for v in value]


def _shot_placements(folder: Path, shot: Shot) -> tuple[list[Any], list[str], float | None]:
    """The clips of one shot's foley.otio as Placements at reel time, its track order, its picture rate."""
    import opentimelineio as otio

    from bridge.timeline import META_KEY, Placement

    timeline = otio.adapters.read_from_file(str(folder / "foley.otio"))
    start = timeline.global_start_time.to_seconds() if timeline.global_start_time else 0.0
    offset = (shot.record_in_s or 0.0) - (shot.source_in_s or 0.0)
    placements, order = [], []
    for track in timeline.audio_tracks():
        base = track.name.rstrip("0123456789 ") or track.name
        if base not in order:
            order.append(base)
        for clip in track.find_clips():
            meta = _plain(clip.metadata.get(META_KEY, {}))
            media = _plain(clip.media_reference.metadata.get(META_KEY, {}))
            rng = track.range_of_child(clip)
            clip_start = start + rng.start_time.to_seconds()
            samples = int(media.get("samples", round(rng.duration.to_seconds() * SAMPLE_RATE)))
            meta.update(shot=shot.name, shot_event_id=meta.get("id"),
                        record_time_s=float(meta.get("record_time_s", 0.0)) + offset,
                        file_time_reference=int(media.get("time_reference", round(clip_start * SAMPLE_RATE))))
            placements.append(Placement(
                event_id=0, kind=str(meta.get("kind", "")), track=base, path=str(folder / meta["clip"]),
                record_in_s=clip_start + offset, duration_s=samples / SAMPLE_RATE,
                snap_offset_s=float(meta.get("snap_offset_s", 0.0)), gain_db=float(meta.get("gain_db", 0.0)),
                pan=float(meta.get("pan", 0.0)), metadata=meta))
    rate = _plain(timeline.metadata.get(META_KEY, {})).get("picture_rate")
    return placements, order, rate


def combined_timeline(reel: Reel, folders: list[tuple[Shot, Path]]) -> tuple[Any, float]:
    """The reel's Foley timeline from the finished shots' folders, and the picture rate to export at."""
    from bridge.timeline import assign_tracks, build_timeline

    placements, order = [], []
    rate = reel.fps
    for shot, folder in folders:
        found, shot_order, shot_rate = _shot_placements(folder, shot)
        placements += found
        order += [name for name in shot_order if name not in order]
        rate = rate or shot_rate
    placements.sort(key=lambda p: (p.record_in_s + p.snap_offset_s, p.metadata["shot"]))
    for n, p in enumerate(placements, start=1):
        p.event_id = n
        p.metadata["id"] = n
    for base in order:  # clips of neighbouring shots may overlap: extra lanes within each track
        group = [p for p in placements if p.track == base]
        assign_tracks(group, {p.kind: base for p in group}, [float(rate or 25.0)])
    for p in placements:
        p.metadata["track"] = p.track
    timeline = build_timeline(f"{reel.name} foley", placements, order, reel.timeline_start_s, SAMPLE_RATE,
                              float(rate or 25.0))
    _keep_file_time_references(timeline)
    return timeline, float(rate or 25.0)


def _keep_file_time_references(timeline: Any) -> None:
    """Each clip's media range from its WAV's own BWF time reference (the shot's media time), as in the
    shot's timeline; the clip's place on the reel is its position on the track."""
    import opentimelineio as otio

    from bridge.timeline import META_KEY

    for clip in timeline.find_clips():
        tref = int(clip.metadata[META_KEY]["file_time_reference"])
        ref = clip.media_reference
        rate = clip.source_range.duration.rate
        value = tref * rate / SAMPLE_RATE
        start = otio.opentime.RationalTime(round(value) if value == round(value) else value, rate)
        media = otio.opentime.TimeRange(start, clip.source_range.duration)
        ref.available_range = media
        clip.source_range = media
        ref_meta = _plain(ref.metadata.get(META_KEY, {}))
        ref_meta["time_reference"] = tref
        ref.metadata[META_KEY] = ref_meta


def events_in(folder: Path) -> int:
    """How many events a finished shot's folder holds."""
    return len(json.loads((folder / "events.json").read_text(encoding="utf-8")).get("events", []))
