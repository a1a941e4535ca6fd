"""OpenTimelineIO: the timeline a job returns, the placements derived from it, and exports.

Times are written at the picture's exchange rate (a SMPTE rate, so timecode readers such as ``otiotool
--stats`` work) with fractional values carrying every clip's position to the sample. Each clip's media
reference describes its BWF file: the available range starts at the file's BWF time reference and lasts its
exact length. FCP7 XML and AAF need whole frames; their timelines are built from every clip's own exact
position (positions are rounded, lengths never accumulate), with each clip ending inside its WAV.
"""
from __future__ import annotations

import copy
import logging
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import opentimelineio as otio

from bridge.bwf import BITS
from bridge.errors import OutputError

log = logging.getLogger("foley.timeline")

META_KEY = "foley_bridge"

#: Channels of every clip the pipeline writes (stereo BWF, see bridge.mixing.render_clip).
CLIP_CHANNELS = 2


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


def frame_span(start_s: float, duration_s: float, rate: float) -> tuple[int, int]:
    """The whole frames a clip covers on a host that rounds its start to the nearest frame and its length up
    (Resolve's audio placement): [first, end)."""
    first = math.floor(start_s * rate + 0.5)
    return first, first + max(1, math.ceil(duration_s * rate - 1e-6))


def assign_tracks(placements: list[Placement], base_names: dict[str, str],
                  picture_rates: Iterable[float] = ()) -> None:
    """Give every placement a track: one per category, extra lanes ("Foley Impacts 2") where clips overlap.

    Overlap is judged to the sample and, for each of ``picture_rates`` (and its exchange rate), on the whole
    frames a frame-based host or export will use (start rounded, length rounded up), so clips that touch in
    samples but share a frame once rounded never land on one lane."""
    rates = sorted({float(x) for r in picture_rates if r and r > 0 for x in (r, exchange_rate(r))})
    lanes: dict[str, list[tuple[float, list[int]]]] = {}
    for p in sorted(placements, key=lambda p: (p.record_in_s, p.event_id)):
        base = base_names[p.kind]
        spans = [frame_span(p.record_in_s, p.duration_s, r) for r in rates]
        ends = lanes.setdefault(base, [])
        for i, (end_s, end_frames) in enumerate(ends):
            if end_s <= p.record_in_s + 1e-9 and all(sp[0] >= e for sp, e in zip(spans, end_frames)):
                ends[i] = (p.record_in_s + p.duration_s, [sp[1] for sp in spans])
                p.track = base if i == 0 else f"{base} {i + 1}"
                break
        else:
            ends.append((p.record_in_s + p.duration_s, [sp[1] for sp in spans]))
            p.track = base if len(ends) == 1 else f"{base} {len(ends)}"


def _at(samples: int, sample_rate: int, rate: float) -> otio.opentime.RationalTime:
    """A sample count as a time at ``rate`` (a fractional value keeps it exact to the sample)."""
    value = samples * rate / sample_rate
    return otio.opentime.RationalTime(round(value) if value == round(value) else value, rate)


def build_timeline(name: str, placements: Iterable[Placement], track_order: list[str],
                   timeline_start_s: float, sample_rate: int, picture_rate: float) -> otio.schema.Timeline:
    """Audio tracks named by category, each clip placed by Gaps so its start is ``record_in_s``.

    Every time is at the exchange rate of ``picture_rate``; each media reference's available range is its
    file: from the BWF time reference (the clip's start) for its exact sample length."""
    rate = exchange_rate(picture_rate)
    timeline = otio.schema.Timeline(name=name)
    start_ref = round(timeline_start_s * sample_rate)
    timeline.global_start_time = _at(start_ref, sample_rate, rate)
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
            time_reference = round(p.record_in_s * sample_rate)  # what the clip's BWF carries
            start = time_reference - start_ref
            length = max(1, round(p.duration_s * sample_rate))
            if start < cursor:
                raise OutputError(f"clip {p.path!r} starts at {p.record_in_s:.6f} s, inside the clip before it on "
                                  f"track {track_name!r}; overlapping clips need their own lanes")
            if start > cursor:
                track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
                    _at(0, sample_rate, rate), _at(start - cursor, sample_rate, rate))))
            media = otio.opentime.TimeRange(_at(time_reference, sample_rate, rate), _at(length, sample_rate, rate))
            ref = otio.schema.ExternalReference(target_url=Path(p.path).as_uri(), available_range=media)
            ref.metadata[META_KEY] = {"sample_rate": sample_rate, "samples": length, "channels": CLIP_CHANNELS,
                                      "bits": BITS, "time_reference": time_reference}
            clip = otio.schema.Clip(name=f"{p.event_id:04d} {p.kind}", media_reference=ref, source_range=media)
            clip.metadata[META_KEY] = p.metadata
            track.append(clip)
            cursor = start + length
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


def _frames(seconds: float, rate: float) -> int:
    return math.floor(seconds * rate + 0.5)


def at_picture_rate(timeline: otio.schema.Timeline, rate: float) -> otio.schema.Timeline:
    """A whole-frame copy for FCP7 XML and AAF, built from every clip's own exact position.

    A clip starts at its position rounded to the nearest frame (absolute frames, as a host counts them), so
    its transient stays within half a frame of the event whatever comes before it on the track; its length is
    the whole frames inside its WAV (never past the file's end). Each media reference carries the WAV's real
    format (sample rate, channels, bit depth, exact length) for both adapters, and its range starts at the BWF
    time reference in frames."""
    out = otio.schema.Timeline(name=timeline.name, metadata=copy.deepcopy(timeline.metadata))
    start_s = timeline.global_start_time.to_seconds() if timeline.global_start_time else 0.0
    origin = _frames(start_s, rate)
    out.global_start_time = otio.opentime.RationalTime(origin, rate)
    for src in timeline.audio_tracks():
        track = otio.schema.Track(name=src.name, kind=otio.schema.TrackKind.Audio)
        cursor = 0
        for clip in src.find_clips():
            ref = clip.media_reference
            meta = dict(ref.metadata.get(META_KEY, {}))
            sample_rate = int(meta.get("sample_rate", 48000))
            samples = int(meta.get("samples", round(clip.source_range.duration.to_seconds() * sample_rate)))
            tref = int(meta.get("time_reference", round(clip.source_range.start_time.to_seconds() * sample_rate)))
            first = _frames(start_s + src.range_of_child(clip).start_time.to_seconds(), rate) - origin
            length = max(1, math.floor(samples * rate / sample_rate + 1e-9))
            if first < cursor:
                raise OutputError(f"clip {clip.name!r} on track {src.name!r} would overlap the clip before it at "
                                  f"{rate:g} fps; overlapping clips need their own lanes")
            if first > cursor:
                track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(first - cursor, rate))))
            file_start = otio.opentime.RationalTime(_frames(tref / sample_rate, rate), rate)
            available = otio.opentime.TimeRange(file_start, otio.opentime.RationalTime(length, rate))
            new_ref = otio.schema.ExternalReference(target_url=ref.target_url, available_range=available)
            channels, bits = int(meta.get("channels", CLIP_CHANNELS)), int(meta.get("bits", BITS))
            new_ref.metadata[META_KEY] = meta
            new_ref.metadata["fcp_xml"] = {"media": {"audio": {
                "samplecharacteristics": {"samplerate": str(sample_rate), "depth": str(bits)},
                "channelcount": str(channels)}}}
            new_ref.metadata["AAF"] = {"EssenceDescription": {
                "SampleRate": sample_rate, "AudioSamplingRate": sample_rate, "Channels": channels,
                "QuantizationBits": bits, "BlockAlign": channels * bits // 8,
                "AverageBPS": sample_rate * channels * bits // 8, "Length": samples}}
            track.append(otio.schema.Clip(name=clip.name, media_reference=new_ref, source_range=available,
                                          metadata=copy.deepcopy(clip.metadata)))
            cursor = first + length
        out.tracks.append(track)
    return out


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


def _tidy_fcp_xml(path: Path) -> None:
    """The FCP7 adapter writes each clip item's <rate> twice; keep one."""
    tree = ET.parse(path)
    for item in tree.getroot().iter("clipitem"):
        for extra in item.findall("rate")[1:]:
            item.remove(extra)
    tree.write(path, encoding="UTF-8", xml_declaration=True)


def _tidy_aaf(path: Path) -> None:
    """The AAF adapter wraps every audio track in an "Audio Pan" operation with only centre points; the pan
    is printed into our clips, so each track holds its plain sequence instead."""
    import aaf2

    with aaf2.open(str(path), "rw") as f:
        for mob in f.content.compositionmobs():
            for slot in mob.slots:
                seg = slot.segment
                if isinstance(seg, aaf2.components.OperationGroup) and seg.operation.name == "Audio Pan":
                    inner = seg.segments.pop(0)
                    slot.segment = inner


def write_exports(timeline: otio.schema.Timeline, directory: Path, formats: list[str],
                  picture_rate: float) -> list[str]:
    """Write ``foley.otio`` and, when asked, ``foley.xml`` (FCP7) and ``foley.aaf``; returns file names."""
    written = []
    otio.adapters.write_to_file(timeline, str(directory / "foley.otio"))
    written.append("foley.otio")
    for fmt in formats:
        if fmt == "otio":
            continue
        tl = at_picture_rate(timeline, exchange_rate(picture_rate))
        try:
            if fmt == "xml":
                otio.adapters.write_to_file(tl, str(directory / "foley.xml"), adapter_name="fcp_xml")
                _tidy_fcp_xml(directory / "foley.xml")
                written.append("foley.xml")
            elif fmt == "aaf":
                otio.adapters.write_to_file(tl, str(directory / "foley.aaf"), adapter_name="AAF",
                                            use_empty_mob_ids=True)
                _tidy_aaf(directory / "foley.aaf")
                written.append("foley.aaf")
        except Exception as exc:  # adapters raise assorted types; name the format and the cause
            raise OutputError(f"cannot write the {fmt!r} export: {type(exc).__name__}: {exc}") from exc
    return written
