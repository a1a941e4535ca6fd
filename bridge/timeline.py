"""OpenTimelineIO: the timeline a job returns, the placements derived from it, and exports.

Times inside the .otio are kept at the audio sample rate (48 kHz) so a clip's transient lands
on the event time to the sample; FCP7 XML and AAF exports are rescaled to the picture rate,
which those formats require (placement there is frame-accurate, not sample-accurate).
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import opentimelineio as otio

from bridge.errors import OutputError

log = logging.getLogger("foley.timeline")

META_KEY = "foley_bridge"


@dataclass
class Placement:
    """One clip on one track, in timeline seconds (where the clip starts)."""

    event_id: int
    kind: str
    track: str
    path: str  # absolute path of the WAV in its final location
    record_in_s: float
    duration_s: float
    snap_offset_s: float
    gain_db: float
    pan: float
    metadata: dict[str, Any]


def assign_tracks(placements: list[Placement], base_names: dict[str, str]) -> None:
    """Give every placement a track: one per category, extra lanes ("Foley Impacts 2") where clips overlap."""
    lanes: dict[str, list[float]] = {}
    for p in sorted(placements, key=lambda p: (p.record_in_s, p.event_id)):
        base = base_names[p.kind]
        ends = lanes.setdefault(base, [])
        for i, end in enumerate(ends):
            if end <= p.record_in_s + 1e-9:
                ends[i] = p.record_in_s + p.duration_s
                p.track = base if i == 0 else f"{base} {i + 1}"
                break
        else:
            ends.append(p.record_in_s + p.duration_s)
            p.track = base if len(ends) == 1 else f"{base} {len(ends)}"


def _rt(seconds: float, rate: float) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(round(seconds * rate), rate)


def build_timeline(name: str, placements: Iterable[Placement], track_order: list[str],
                   timeline_start_s: float, sample_rate: int, picture_rate: float) -> otio.schema.Timeline:
    """Audio tracks named by category, each clip placed by Gaps so its start is ``record_in_s``."""
    timeline = otio.schema.Timeline(name=name)
    timeline.global_start_time = _rt(timeline_start_s, sample_rate)
    timeline.metadata[META_KEY] = {"picture_rate": picture_rate, "sample_rate": sample_rate}
    by_track: dict[str, list[Placement]] = {}
    for p in placements:
        by_track.setdefault(p.track, []).append(p)

    def order(track_name: str) -> tuple[int, str]:
        base = track_name.rstrip("0123456789 ")
        return (track_order.index(base) if base in track_order else len(track_order), track_name)

    for track_name in sorted(by_track, key=order):
        track = otio.schema.Track(name=track_name, kind=otio.schema.TrackKind.Audio)
        cursor = 0  # samples from timeline start
        for p in sorted(by_track[track_name], key=lambda p: p.record_in_s):
            start = round((p.record_in_s - timeline_start_s) * sample_rate)
            length = max(1, round(p.duration_s * sample_rate))
            if start > cursor:
                track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(0, sample_rate),
                    otio.opentime.RationalTime(start - cursor, sample_rate))))
            ref = otio.schema.ExternalReference(
                target_url=Path(p.path).as_uri(),
                available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, sample_rate),
                                                        otio.opentime.RationalTime(length, sample_rate)))
            clip = otio.schema.Clip(
                name=f"{p.event_id:04d} {p.kind}", media_reference=ref,
                source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, sample_rate),
                                                     otio.opentime.RationalTime(length, sample_rate)))
            clip.metadata[META_KEY] = p.metadata
            track.append(clip)
            cursor = max(cursor, start) + length
        timeline.tracks.append(track)
    return timeline


def placements_from_timeline(timeline: otio.schema.Timeline) -> list[dict[str, Any]]:
    """The placements a host needs, read back from the timeline itself so the two never disagree."""
    start = timeline.global_start_time.to_seconds() if timeline.global_start_time else 0.0
    out = []
    for track in timeline.audio_tracks():
        for clip in track.find_clips():
            meta = clip.metadata.get(META_KEY, {})
            rng = track.range_of_child(clip)
            url = clip.media_reference.target_url
            out.append({
                "id": meta.get("id"), "kind": meta.get("kind"), "track": track.name,
                "path": otio.url_utils.filepath_from_url(url) if url.startswith("file:") else url,
                "record_in_s": start + rng.start_time.to_seconds(),
                "duration_s": rng.duration.to_seconds(),
                "snap_offset_s": meta.get("snap_offset_s", 0.0),
                "gain_db": meta.get("gain_db", 0.0), "pan": meta.get("pan", 0.0),
            })
    out.sort(key=lambda d: (d["record_in_s"], d["id"] or 0))
    return out


def _at_picture_rate(timeline: otio.schema.Timeline, rate: float) -> otio.schema.Timeline:
    """A copy with every time rescaled to the picture rate (FCP7 XML and AAF want that)."""
    tl = copy.deepcopy(timeline)

    def rescale(tr: otio.opentime.TimeRange) -> otio.opentime.TimeRange:
        return otio.opentime.TimeRange(tr.start_time.rescaled_to(rate).round(),
                                       tr.duration.rescaled_to(rate).round())

    if tl.global_start_time is not None:
        tl.global_start_time = tl.global_start_time.rescaled_to(rate).round()
    for track in tl.tracks:
        for child in track:
            if child.source_range is not None:
                rng = rescale(child.source_range)
                if rng.duration.value < 1:
                    rng = otio.opentime.TimeRange(rng.start_time, otio.opentime.RationalTime(1, rate))
                child.source_range = rng
            ref = getattr(child, "media_reference", None)
            if ref is not None and ref.available_range is not None:
                ref.available_range = rescale(ref.available_range)
    return tl


#: Rates SMPTE timecode (and so FCP7 XML) supports.
SMPTE_RATES = (24000 / 1001, 24.0, 25.0, 30000 / 1001, 30.0, 48.0, 50.0, 60000 / 1001, 60.0)


def exchange_rate(picture_rate: float) -> float:
    """The picture rate, or the nearest SMPTE rate that is a whole multiple of it (15 -> 30, 12.5 -> 25)."""
    for rate in SMPTE_RATES:
        if abs(rate - picture_rate) < 1e-3:
            return rate
    for rate in SMPTE_RATES:
        ratio = rate / picture_rate
        if abs(ratio - round(ratio)) < 1e-3:
            return rate
    return min(SMPTE_RATES, key=lambda r: abs(r - picture_rate))


def write_exports(timeline: otio.schema.Timeline, directory: Path, formats: list[str],
                  picture_rate: float) -> list[str]:
    """Write ``foley.otio`` and, when asked, ``foley.xml`` (FCP7) and ``foley.aaf``; returns file names."""
    written = []
    otio.adapters.write_to_file(timeline, str(directory / "foley.otio"))
    written.append("foley.otio")
    for fmt in formats:
        if fmt == "otio":
            continue
        tl = _at_picture_rate(timeline, exchange_rate(picture_rate))
        try:
            if fmt == "xml":
                otio.adapters.write_to_file(tl, str(directory / "foley.xml"), adapter_name="fcp_xml")
                written.append("foley.xml")
            elif fmt == "aaf":
                otio.adapters.write_to_file(tl, str(directory / "foley.aaf"), adapter_name="AAF",
                                            use_empty_mob_ids=True)
                written.append("foley.aaf")
        except Exception as exc:  # adapters raise assorted types; name the format and the cause
            raise OutputError(f"cannot write the {fmt!r} export: {type(exc).__name__}: {exc}") from exc
    return written
