"""Broadcast WAV (BWF) clips: 24-bit PCM with a ``bext`` chunk carrying the time reference.

soundfile writes 24-bit WAV but not the ``bext`` chunk, so this is a small struct-based writer
(EBU Tech 3285). The time reference is the clip's start as a 64-bit sample count from
midnight/the timeline origin, which hosts use to place the clip. Writes are atomic: a temp file
in the target folder, then ``os.replace``.

Layout written: ``RIFF``/``WAVE``, ``fmt `` (PCM, or WAVE_FORMAT_EXTENSIBLE above 2 channels),
``bext`` (version 1: description 256 bytes, originator 32, originator reference 32, date
``yyyy-mm-dd``, time ``hh:mm:ss``, TimeReferenceLow/High, version, UMID 64 zero bytes, the five
loudness fields zero, 180 reserved zero bytes, coding history), optionally ``iXML`` (UTF-8 XML:
the clip's UCS fields and its sync point) and a ``cue `` point with its ``LIST``/``adtl`` label
(the sync point: where the transient sits, the marker editors snap to), then ``data``.
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import struct
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bridge.errors import InputError, OutputError
from bridge.outdir import follow_umask

log = logging.getLogger("foley.bwf")

BITS = 24
_FULL_SCALE = float(1 << (BITS - 1))          # 8388608
_MAX_CODE = (1 << (BITS - 1)) - 1             # 8388607: +1.0 clamps to just below full scale
_BEXT_FIXED = 602                             # bytes of bext before the coding history
_RIFF_LIMIT = 0xFFFFFFFF
_KSDATAFORMAT_SUBTYPE_PCM = bytes.fromhex("0100000000001000800000aa00389b71")


def _fixed_ascii(text: str, size: int) -> bytes:
    """``text`` as ASCII (non-ASCII becomes ``?``), cut to ``size`` bytes and NUL-padded."""
    raw = text.encode("ascii", errors="replace")[:size]
    return raw + b"\0" * (size - len(raw))


def _check_audio(audio: Any) -> np.ndarray:
    """Validated (channels, n) real array; a 1-D array is taken as mono."""
    arr = np.asarray(audio)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2:
        raise InputError(f"audio shape {arr.shape} must be (channels, samples) or (samples,)")
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputError(f"audio dtype {arr.dtype} must be real floating point samples in -1..1")
    channels, _ = arr.shape
    if not 1 <= channels <= 32:
        raise InputError(f"audio has {channels} channels; give (channels, samples) with 1 to 32 channels")
    if not np.all(np.isfinite(arr)):
        raise InputError("audio contains NaN or infinite samples; fix the render before writing the WAV")
    return arr


def _pcm_blocks(audio: np.ndarray, dither_seed: int | None, block: int = 1 << 18) -> Iterator[bytes]:
    """24-bit PCM bytes of (channels, n) audio, ``block`` frames at a time (bounded memory)."""
    rng = np.random.default_rng(dither_seed) if dither_seed is not None else None
    for start in range(0, audio.shape[1], block):
        scaled = np.asarray(audio[:, start:start + block], dtype=np.float64).T * _FULL_SCALE
        if rng is not None:
            scaled += rng.random(scaled.shape) - rng.random(scaled.shape)
        codes = np.clip(np.rint(scaled), -_FULL_SCALE, _MAX_CODE).astype("<i4")
        yield codes.reshape(-1, 1).view(np.uint8)[:, :3].tobytes()


def _fmt_chunk(channels: int, sample_rate: int) -> bytes:
    block_align = channels * BITS // 8
    byte_rate = sample_rate * block_align
    if channels <= 2:
        body = struct.pack("<HHIIHH", 1, channels, sample_rate, byte_rate, block_align, BITS)
    else:
        mask = (1 << channels) - 1 if channels <= 18 else 0
        body = struct.pack("<HHIIHHHHI", 0xFFFE, channels, sample_rate, byte_rate, block_align, BITS,
                           22, BITS, mask) + _KSDATAFORMAT_SUBTYPE_PCM
    return b"fmt " + struct.pack("<I", len(body)) + body


def bext_chunk(description: str, originator: str, time_reference: int, sample_rate: int, channels: int,
               when: _dt.datetime, originator_reference: str = "") -> bytes:
    """The ``bext`` chunk bytes (padded to an even size)."""
    mode = {1: "mono", 2: "stereo"}.get(channels, "multichannel")
    history = f"A=PCM,F={sample_rate},W={BITS},M={mode},T={originator}\r\n".encode("ascii", errors="replace")
    body = b"".join([
        _fixed_ascii(description, 256),
        _fixed_ascii(originator, 32),
        _fixed_ascii(originator_reference, 32),
        _fixed_ascii(when.strftime("%Y-%m-%d"), 10),
        _fixed_ascii(when.strftime("%H:%M:%S"), 8),
        struct.pack("<IIH", time_reference & 0xFFFFFFFF, time_reference >> 32, 1),
        b"\0" * 64,          # UMID
        b"\0" * 10,          # loudness value, range, max true peak, max momentary, max short-term
        b"\0" * 180,         # reserved
        history,
    ])
    assert len(body) == _BEXT_FIXED + len(history)
    pad = b"\0" if len(body) % 2 else b""
    return b"bext" + struct.pack("<I", len(body)) + body + pad


def _chunk(cid: bytes, body: bytes) -> bytes:
    """One RIFF chunk, padded to an even size."""
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


#: The label of the cue point at a clip's sync point.
SYNC_LABEL = "sync"


def cue_chunks(sample: int, label: str = SYNC_LABEL) -> bytes:
    """A ``cue `` chunk with one point at ``sample`` (frames from the file's first sample) and the
    ``LIST``/``adtl``/``labl`` chunk naming it."""
    cue = struct.pack("<I", 1) + struct.pack("<II4sIII", 1, sample, b"data", 0, 0, sample)
    text = label.encode("utf-8") + b"\0"
    labl = _chunk(b"labl", struct.pack("<I", 1) + text)
    return _chunk(b"cue ", cue) + _chunk(b"LIST", b"adtl" + labl)


def ucs_ixml(ucs: Mapping[str, str] | None, fx_name: str, description: str, sync_sample: int | None = None,
             originator: str = "foley-bridge") -> str:
    """iXML text carrying a clip's Universal Category System fields, the way sound-effects librarians read
    them: Soundminer/BaseHead ``USER`` fields (CATEGORY, SUBCATEGORY, CATID, CATEGORYFULL, FXNAME,
    DESCRIPTION) and the ASWG block (category, subCategory, catId, fxName, notes); plus the sync point
    (``SYNC_POINT_LIST``, samples from the file's start) when given. ``ucs`` is ``{"cat_id", "category",
    "subcategory"}``; missing or empty fields are left out."""
    ucs = ucs or {}
    root = ET.Element("BWFXML")
    ET.SubElement(root, "IXML_VERSION").text = "2.10"
    ET.SubElement(root, "NOTE").text = description
    cat, sub, cat_id = ucs.get("category") or "", ucs.get("subcategory") or "", ucs.get("cat_id") or ""
    user = ET.SubElement(root, "USER")
    aswg = ET.SubElement(root, "ASWG")
    for tag, aswg_tag, value in (("CATEGORY", "category", cat), ("SUBCATEGORY", "subCategory", sub),
                                 ("CATID", "catId", cat_id), ("FXNAME", "fxName", fx_name),
                                 ("DESCRIPTION", "notes", description)):
        if value:
            ET.SubElement(user, tag).text = value
            ET.SubElement(aswg, aswg_tag).text = value
    if cat and sub:
        ET.SubElement(user, "CATEGORYFULL").text = f"{cat}-{sub}"
    ET.SubElement(user, "EMBEDDER").text = originator
    ET.SubElement(aswg, "originator").text = originator
    if sync_sample is not None:
        points = ET.SubElement(root, "SYNC_POINT_LIST")
        ET.SubElement(points, "SYNC_POINT_COUNT").text = "1"
        point = ET.SubElement(points, "SYNC_POINT")
        for tag, value in (("SYNC_POINT_TYPE", "RELATIVE"), ("SYNC_POINT_FUNCTION", "SLATE_GENERIC"),
                           ("SYNC_POINT_COMMENT", SYNC_LABEL), ("SYNC_POINT_LOW", str(sync_sample & 0xFFFFFFFF)),
                           ("SYNC_POINT_HIGH", str(sync_sample >> 32)), ("SYNC_POINT_EVENT_DURATION", "0")):
            ET.SubElement(point, tag).text = value
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def _prepare(audio: Any, sample_rate: int, time_reference: int, description: str, originator: str,
             when: _dt.datetime | None, cue_sample: int | None = None,
             ixml: str | None = None) -> tuple[np.ndarray, bytes, int]:
    """Validated audio, the header bytes up to the data samples, and the data size in bytes."""
    arr = _check_audio(audio)
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) \
            or not 1000 <= int(sample_rate) <= 768000:
        raise InputError(f"sample rate {sample_rate!r} must be an integer from 1000 to 768000 Hz (e.g. 48000)")
    if isinstance(time_reference, bool) or not isinstance(time_reference, (int, np.integer)) \
            or not 0 <= int(time_reference) < 1 << 64:
        raise InputError(f"time reference {time_reference!r} must be a sample count from 0 to 2**64-1")
    if not isinstance(description, str) or not isinstance(originator, str):
        raise InputError(f"description {description!r} and originator {originator!r} must be text")
    channels, frames = arr.shape
    if cue_sample is not None and (isinstance(cue_sample, bool) or not isinstance(cue_sample, (int, np.integer))
                                   or not 0 <= int(cue_sample) <= frames):
        raise InputError(f"cue point {cue_sample!r} must be a sample position inside the clip (0 to {frames})")
    data_size = channels * frames * BITS // 8
    fmt = _fmt_chunk(channels, int(sample_rate))
    bext = bext_chunk(description, originator, int(time_reference), int(sample_rate), channels,
                      when or _dt.datetime.now())
    extra = (_chunk(b"iXML", ixml.encode("utf-8")) if ixml else b"") \
        + (cue_chunks(int(cue_sample)) if cue_sample is not None else b"")
    riff_size = 4 + len(fmt) + len(bext) + len(extra) + 8 + data_size + (data_size & 1)
    if riff_size > _RIFF_LIMIT:
        raise OutputError(f"clip of {frames} samples x {channels} channels is over the 4 GiB WAV limit; "
                          "split it into shorter clips")
    header = b"".join([b"RIFF", struct.pack("<I", riff_size), b"WAVE", fmt, bext, extra,
                       b"data", struct.pack("<I", data_size)])
    return arr, header, data_size


def wav_bytes(audio: Any, sample_rate: int, time_reference: int, description: str,
              originator: str = "foley-bridge", when: _dt.datetime | None = None,
              dither_seed: int | None = None, cue_sample: int | None = None, ixml: str | None = None) -> bytes:
    """The whole BWF file as bytes (for small clips; :func:`write_bwf` streams to disk)."""
    arr, header, data_size = _prepare(audio, sample_rate, time_reference, description, originator, when,
                                      cue_sample, ixml)
    return header + b"".join(_pcm_blocks(arr, dither_seed)) + b"\0" * (data_size & 1)


def write_bwf(path: str | os.PathLike[str], audio: Any, sample_rate: int, time_reference: int,
              description: str, originator: str = "foley-bridge", when: _dt.datetime | None = None,
              dither_seed: int | None = None, cue_sample: int | None = None, ixml: str | None = None) -> None:
    """Write ``audio`` (channels, n) as a 24-bit BWF at ``path`` atomically.

    ``time_reference`` is the clip start in samples at ``sample_rate``; ``when`` is the
    origination date/time (now when None); ``dither_seed`` turns on deterministic TPDF dither;
    ``cue_sample`` puts a cue point labelled "sync" there (the clip's sync point); ``ixml`` is
    written as the iXML chunk (see :func:`ucs_ixml`).
    Raises InputError for bad arguments and OutputError when the folder cannot be written; a
    failed write leaves no temp file behind.
    """
    target = Path(path)
    arr, header, data_size = _prepare(audio, sample_rate, time_reference, description, originator, when,
                                      cue_sample, ixml)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"output folder {str(folder)!r} does not exist; create it or choose another path")
    if target.is_dir():
        raise OutputError(f"output path {str(target)!r} is a folder; give a .wav file path")
    tmp_name: str | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        follow_umask(tmp_name)
        with os.fdopen(fd, "wb") as fh:
            fh.write(header)
            for chunk in _pcm_blocks(arr, dither_seed):
                fh.write(chunk)
            fh.write(b"\0" * (data_size & 1))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, target)
        tmp_name = None
    except OSError as exc:
        raise OutputError(f"cannot write WAV {str(target)!r}: {exc.strerror or exc}; "
                          "check the folder's permissions and free space") from None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                log.warning("could not remove temp file %s", tmp_name)
    log.debug("wrote %s (%d bytes, time reference %d)", target, len(header) + data_size, time_reference)


def find_chunk(fh: Any, wanted: bytes, limit: int = 1 << 20) -> bytes | None:
    """Body of the first top-level chunk ``wanted`` (at most ``limit`` bytes), seeking past others."""
    while True:
        header = fh.read(8)
        if len(header) < 8:
            return None
        cid, size = header[:4], struct.unpack("<I", header[4:])[0]
        if cid == wanted:
            return fh.read(min(size, limit))
        fh.seek(size + (size & 1), os.SEEK_CUR)


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("ascii", errors="replace")


def read_bext(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``bext`` fields of a WAV file; an empty dict when it has none.

    Keys: description, originator, originator_reference, date, time, time_reference, version,
    coding_history. Raises InputError when the file is missing or not a RIFF/WAVE file.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                raise InputError(f"{str(p)!r} is not a RIFF/WAVE file")
            body = find_chunk(fh, b"bext")
    except OSError as exc:
        raise InputError(f"cannot read WAV {str(p)!r}: {exc.strerror or exc}") from None
    if body is None or len(body) < _BEXT_FIXED - 190:
        return {}
    low, high, version = struct.unpack("<IIH", body[338:348])
    return {
        "description": _text(body[0:256]),
        "originator": _text(body[256:288]),
        "originator_reference": _text(body[288:320]),
        "date": _text(body[320:330]),
        "time": _text(body[330:338]),
        "time_reference": (high << 32) | low,
        "version": version,
        "coding_history": _text(body[_BEXT_FIXED:]) if len(body) > _BEXT_FIXED else "",
    }
