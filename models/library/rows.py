"""One index row per file (analysis + metadata, or the reason it is skipped) and the records the
index hands out."""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from bridge.errors import InputError
from models.audio import read_audio
from models.library.analysis import analyse_audio, mono
from models.library.metadata import classify, file_metadata

log = logging.getLogger("foley.library")

#: Files analysed from their first MAX_ANALYSE_S seconds only (noted on the file).
MAX_ANALYSE_S = 60.0
#: Files above this size are analysed from their first part only (noted on the file).
LARGE_FILE_MB = 500.0
#: Peak below this is treated as silence (the file is skipped).
SILENCE_DBFS = -90.0
#: Bump when analysis changes: rows of an older version are read again on the next ``add``.
ANALYSIS_VERSION = 1


def analyse_file(path: str, size: int) -> dict[str, Any]:
    """One index row for a file: status 'ok' with features, or 'skipped' with the reason."""
    row: dict[str, Any] = {"status": "skipped", "reason": "", "notes": ""}
    notes: list[str] = []
    if size == 0:
        row["reason"] = "empty file (0 bytes)"
        return row
    try:
        import soundfile as sf

        info = sf.info(path)
        row.update(sample_rate=int(info.samplerate), channels=int(info.channels), subtype=str(info.subtype),
                   format=str(info.format), duration_s=float(info.duration))
    except Exception as exc:  # noqa: BLE001 - fall through to PyAV in read_audio
        log.debug("soundfile cannot describe %s: %s", path, exc)
    limit = MAX_ANALYSE_S
    try:
        data, sr = read_audio(path, 0.0, limit)
    except InputError as exc:
        row["reason"] = f"unreadable: {exc}"
        return row
    except MemoryError:
        row["reason"] = "too large to read"
        return row
    row.setdefault("sample_rate", sr)
    row.setdefault("channels", int(data.shape[1]))
    if not row.get("duration_s"):
        row["duration_s"] = len(data) / sr
    if len(data) == 0:
        row["reason"] = "no audio frames"
        return row
    subtype = row.get("subtype", "")
    if subtype in ("PCM_U8", "PCM_S8"):
        notes.append("8-bit PCM (low resolution)")
    if row["channels"] > 2:
        notes.append(f"{row['channels']} channels summed to mono")
    if row["duration_s"] > limit + 0.01 or size > LARGE_FILE_MB * 1e6:
        notes.append(f"long or large file ({size / 1e6:.0f} MB, {row['duration_s']:.0f} s): "
                     f"features from the first {limit:.0f} s")
    x = mono(data)
    if not np.all(np.isfinite(x)):
        row["reason"] = "audio contains NaN or infinite samples"
        return row
    feats = analyse_audio(x, sr)
    if feats["peak_dbfs"] < SILENCE_DBFS:
        row["reason"] = f"silent (peak {feats['peak_dbfs']:.0f} dBFS)"
        return row
    row.update(feats)
    meta = file_metadata(path)
    row.update(classify(path, meta))
    row["description"] = meta.get("description", "")
    row["keywords"] = meta.get("keywords", "")
    row["status"] = "ok"
    row["notes"] = "; ".join(notes)
    return row

@dataclass
class LibraryFile:
    """One indexed file as search and the backend see it."""

    path: str
    root: str
    status: str
    reason: str
    notes: str
    category: str
    subcategory: str
    cat_id: str
    fx_name: str
    description: str
    duration_s: float
    sample_rate: int
    channels: int
    rms_dbfs: float
    peak_dbfs: float
    transient_s: float
    centroid_hz: float
    brightness: float
    fits: dict[str, float] = field(default_factory=dict)
    score: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AddReport:
    """What one ``add`` did. ``analysed`` lists the files that were read."""

    roots: list[str]
    scanned: int = 0
    unchanged: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    analysed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["analysed"] = len(self.analysed)
        return d
