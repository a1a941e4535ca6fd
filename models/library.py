"""The sound-library index: the editor's own sound effects, analysed once, kept in SQLite.

``LibraryIndex`` walks folders of WAV/BWF, FLAC, AIFF, OGG and MP3 files, reads each file's
name (UCS or keywords, see :mod:`models.ucs`), its BWF ``bext`` description and iXML when
present, and a few audio facts (duration, rate, channels, level, where the main transient is,
spectral centroid and brightness). Only new or changed files (size, mtime) are read again;
work is committed in batches so an interrupted run resumes where it stopped. Files that
cannot be used are kept with ``status = 'skipped'`` and the reason.

``start_watcher`` keeps an index current while a daemon runs (watchdog).
"""
from __future__ import annotations

import logging
import os
import sqlite3
import sys
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from bridge.bwf import find_chunk
from bridge.errors import Cancelled, InputError, OutputError
from models import ucs

log = logging.getLogger("foley.library")

AUDIO_EXTENSIONS = frozenset([".wav", ".wave", ".bwf", ".flac", ".aif", ".aiff", ".aifc", ".ogg",
                              ".oga", ".mp3"])
#: Files analysed from their first MAX_ANALYSE_S seconds only (noted on the file).
MAX_ANALYSE_S = 60.0
#: Files above this size are analysed from their first part only (noted on the file).
LARGE_FILE_MB = 500.0
#: Peak below this is treated as silence (the file is skipped).
SILENCE_DBFS = -90.0
#: Bump when analysis changes: rows of an older version are read again on the next ``add``.
ANALYSIS_VERSION = 1
SCHEMA_VERSION = 1
BATCH_FILES = 64
BRIGHT_HZ = 1500.0
KINDS = tuple(ucs.KIND_FITS)

ProgressFn = Callable[[int, int, str], None]


def default_db_path() -> Path:
    """``$FOLEY_BRIDGE_DATA/library.sqlite``, else the platform's user data folder."""
    env = os.environ.get("FOLEY_BRIDGE_DATA")
    if env:
        return Path(env).expanduser() / "library.sqlite"
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    elif sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "foley-bridge" / "library.sqlite"


# --------------------------------------------------------------------------- pure analysis

def mono(audio: np.ndarray) -> np.ndarray:
    """Average of the channels of (n, channels) or (n,) audio, float32 (n,)."""
    a = np.asarray(audio, dtype=np.float32)
    return a if a.ndim == 1 else a.mean(axis=1, dtype=np.float32)


def dbfs(value: float) -> float:
    return float(20.0 * np.log10(max(float(value), 1e-10)))


def block_envelope(x: np.ndarray, hop: int) -> np.ndarray:
    """Peak of |x| in consecutive blocks of ``hop`` samples (last block zero-padded)."""
    n_blocks = -(-len(x) // hop)
    padded = np.zeros(n_blocks * hop, dtype=np.float32)
    padded[: len(x)] = np.abs(x)
    return padded.reshape(n_blocks, hop).max(axis=1)


def find_transient(x: np.ndarray, sample_rate: int, lookback_s: float = 0.05,
                   strong_db: float = 12.0) -> int:
    """Sample index where the main transient of mono ``x`` starts.

    The main transient is the 1 ms block, among those within ``strong_db`` of the loudest,
    that rises most above the mean level of the ``lookback_s`` before it; its start is the
    first sample after the last quiet block that reaches a quarter of the local peak.
    """
    if len(x) == 0:
        return 0
    hop = max(1, int(round(sample_rate * 0.001)))
    env = block_envelope(x, hop)
    peak = float(env.max())
    if peak <= 0.0:
        return 0
    floor = peak * 10 ** (-90 / 20)
    power = np.maximum(env, floor) ** 2
    look = max(1, int(round(lookback_s / 0.001)))
    csum = np.concatenate([[0.0], np.cumsum(power, dtype=np.float64)])
    idx = np.arange(len(env))
    lo = np.maximum(idx - look, 0)
    count = idx - lo
    before = np.where(count > 0, (csum[idx] - csum[lo]) / np.maximum(count, 1), floor ** 2)
    rise = 10 * np.log10(power) - 10 * np.log10(np.maximum(before, floor ** 2))
    strong = env >= peak * 10 ** (-strong_db / 20)
    block = int(np.argmax(np.where(strong, rise, -np.inf)))
    local_end = min(len(x), (block + 11) * hop)
    local_peak = float(np.abs(x[block * hop: local_end]).max())
    threshold = 0.25 * local_peak
    j = block
    while j > 0 and block - j < look and env[j - 1] >= threshold:
        j -= 1
    start = j * hop
    seg = np.abs(x[start: local_end])
    above = np.flatnonzero(seg >= threshold)
    return start + int(above[0]) if len(above) else block * hop


def spectral_features(x: np.ndarray, sample_rate: int, n_fft: int = 2048,
                      max_frames: int = 200) -> tuple[float, float]:
    """(spectral centroid in Hz, brightness = share of energy above 1.5 kHz) of mono ``x``."""
    if len(x) < 16:
        return 0.0, 0.0
    n_fft = min(n_fft, 1 << int(np.floor(np.log2(len(x)))))
    n_frames = len(x) // n_fft
    starts = np.linspace(0, len(x) - n_fft, num=min(max_frames, max(1, n_frames))).astype(int)
    frames = np.stack([x[s: s + n_fft] for s in starts]) * np.hanning(n_fft).astype(np.float32)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).sum(axis=0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    total = float(power.sum())
    if total <= 0.0:
        return 0.0, 0.0
    return float((freqs * power).sum() / total), float(power[freqs >= BRIGHT_HZ].sum() / total)


def analyse_audio(x: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Level, transient and spectral facts of mono audio (pure)."""
    peak = float(np.abs(x).max()) if len(x) else 0.0
    t = find_transient(x, sample_rate)
    window = x[t: t + int(0.3 * sample_rate)]
    rms = float(np.sqrt(np.mean(np.square(window, dtype=np.float64)))) if len(window) else 0.0
    centroid, brightness = spectral_features(x[t: t + int(2.0 * sample_rate)], sample_rate)
    return {"peak_dbfs": dbfs(peak), "rms_dbfs": dbfs(rms), "transient_s": t / sample_rate,
            "centroid_hz": centroid, "brightness": brightness}


# --------------------------------------------------------------------------- file reading

def read_audio(path: str, start_s: float = 0.0, max_s: float | None = None) -> tuple[np.ndarray, int]:
    """Float32 (n, channels) audio from ``start_s`` for at most ``max_s`` seconds, and its rate.

    soundfile (libsndfile) first; PyAV for what it cannot read. Raises InputError.
    """
    import soundfile as sf

    try:
        with sf.SoundFile(path) as f:
            sr = f.samplerate
            start = int(round(start_s * sr))
            if start:
                f.seek(min(start, f.frames))
            frames = -1 if max_s is None else int(round(max_s * sr))
            data = f.read(frames=frames, dtype="float32", always_2d=True)
            return data, sr
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        sf_error = exc
    try:
        return _read_audio_av(path, start_s, max_s)
    except InputError:
        raise InputError(f"{path!r} is not readable audio: {sf_error}") from None


def _read_audio_av(path: str, start_s: float, max_s: float | None) -> tuple[np.ndarray, int]:
    import av

    try:
        container = av.open(path)
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path!r}: {exc}") from None
    try:
        if not container.streams.audio:
            raise InputError(f"{path!r} has no audio stream")
        stream = container.streams.audio[0]
        sr = int(stream.rate or stream.codec_context.sample_rate)
        resampler = av.AudioResampler(format="fltp")
        chunks: list[np.ndarray] = []
        need = None if max_s is None else int(round(max_s * sr))
        skip = int(round(start_s * sr))
        got = 0
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                a = out.to_ndarray().astype(np.float32, copy=False)
                if skip:
                    cut = min(skip, a.shape[1])
                    a, skip = a[:, cut:], skip - cut
                chunks.append(a)
                got += a.shape[1]
            if need is not None and got >= need:
                break
        if not chunks:
            raise InputError(f"{path!r} decodes to no audio")
        data = np.concatenate(chunks, axis=1).T
        return (data[:need] if need is not None else data), sr
    except av.error.FFmpegError as exc:
        raise InputError(f"{path!r}: {exc}") from None
    finally:
        container.close()


def _riff_chunk(path: str, wanted: bytes, limit: int = 1 << 20) -> bytes | None:
    """Body of a top-level RIFF/RF64 chunk, or None."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
                return None
            return find_chunk(fh, wanted, limit)
    except OSError:
        return None


def parse_ixml(text: bytes) -> dict[str, str]:
    """Upper-case tag -> text of the first occurrence of each iXML element (empty on bad XML)."""
    try:
        root = ET.fromstring(text.rstrip(b"\0 \r\n\t"))
    except ET.ParseError:
        return {}
    out: dict[str, str] = {}
    for el in root.iter():
        tag = el.tag.upper()
        if tag not in out and el.text and el.text.strip():
            out[tag] = el.text.strip()
    return out


def file_metadata(path: str) -> dict[str, str]:
    """Description and category hints from BWF bext, iXML (WAV) or text tags (other formats)."""
    meta: dict[str, str] = {}
    if path.lower().endswith((".wav", ".wave", ".bwf")):
        try:
            from bridge.bwf import read_bext

            bext = read_bext(path)
        except Exception as exc:  # noqa: BLE001 - a bad chunk must not stop indexing
            log.debug("no bext in %s: %s", path, exc)
            bext = {}
        if bext.get("description"):
            meta["description"] = str(bext["description"]).strip()
        ixml_body = _riff_chunk(path, b"iXML")
        if ixml_body:
            ixml = parse_ixml(ixml_body)
            for key, tag in (("description", "DESCRIPTION"), ("description", "BWF_DESCRIPTION"),
                             ("cat_id", "CATID"), ("category", "CATEGORY"),
                             ("subcategory", "SUBCATEGORY"), ("fx_name", "FXNAME"),
                             ("keywords", "KEYWORDS")):
                if tag in ixml and key not in meta:
                    meta[key] = ixml[tag]
    else:
        import soundfile as sf

        try:
            with sf.SoundFile(path) as f:
                text = " ".join(t for t in (f.title, f.comment) if t)
            if text.strip():
                meta["description"] = text.strip()
        except Exception as exc:  # noqa: BLE001
            log.debug("no text tags in %s: %s", path, exc)
    return meta


def classify(path: str, meta: dict[str, str]) -> dict[str, str]:
    """Category fields from iXML, else the UCS name, else keywords of the name or description."""
    name = ucs.parse_name(path)
    out = {"cat_id": name.cat_id, "category": name.category, "subcategory": name.subcategory,
           "fx_name": meta.get("fx_name") or name.fx_name, "creator_id": name.creator_id,
           "source_id": name.source_id, "user_category": name.user_category}
    found = ucs.lookup_catid(meta["cat_id"]) if meta.get("cat_id") else None
    if found:
        out.update(cat_id=meta["cat_id"], category=found[0], subcategory=found[1])
    elif meta.get("category"):
        out.update(category=meta["category"].upper(), subcategory=(meta.get("subcategory") or "MISC").upper())
    elif not name.is_ucs and meta.get("description"):
        from_desc = ucs.keyword_category(meta["description"])
        if from_desc[0] and (not name.category or ucs.keyword_category(name.fx_name)[0] == ""):
            out.update(category=from_desc[0], subcategory=from_desc[1])
    return out


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


# --------------------------------------------------------------------------- the index

_COLUMNS = ["path", "root", "size", "mtime_ns", "version", "status", "reason", "notes", "name", "cat_id",
            "category", "subcategory", "fx_name", "creator_id", "source_id", "user_category",
            "description", "keywords", "duration_s", "sample_rate", "channels", "subtype", "format",
            "rms_dbfs", "peak_dbfs", "transient_s", "centroid_hz", "brightness",
            *[f"fit_{k}" for k in KINDS], "indexed_at"]

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS roots (path TEXT PRIMARY KEY, added_at REAL, last_scan REAL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, root TEXT NOT NULL, size INTEGER, mtime_ns INTEGER, version INTEGER,
    status TEXT NOT NULL, reason TEXT, notes TEXT, name TEXT, cat_id TEXT, category TEXT, subcategory TEXT,
    fx_name TEXT, creator_id TEXT, source_id TEXT, user_category TEXT, description TEXT, keywords TEXT,
    duration_s REAL, sample_rate INTEGER, channels INTEGER, subtype TEXT, format TEXT,
    rms_dbfs REAL, peak_dbfs REAL, transient_s REAL, centroid_hz REAL, brightness REAL,
    {", ".join(f"fit_{k} REAL" for k in KINDS)}, indexed_at REAL);
CREATE INDEX IF NOT EXISTS files_root ON files(root);
CREATE VIRTUAL TABLE IF NOT EXISTS files_fts USING fts5(name, category, description,
    tokenize='porter unicode61');
"""


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


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _like_prefix(root: str) -> str:
    escaped = root.rstrip(os.sep).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + os.sep.replace("\\", "\\\\") + "%"


def iter_audio_files(root: str) -> Iterator[tuple[str, os.stat_result]]:
    """Audio files under ``root`` (hidden files and AppleDouble ``._`` files left out)."""
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: log.warning("cannot list %s", e)):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or os.path.splitext(name)[1].lower() not in AUDIO_EXTENSIONS:
                continue
            path = os.path.join(dirpath, name)
            try:
                st = os.stat(path)
            except OSError as exc:
                log.warning("cannot stat %s: %s", path, exc)
                continue
            if os.path.isfile(path):
                yield path, st


class LibraryIndex:
    """Persistent index of sound files. Safe to share between threads (one lock)."""

    def __init__(self, db_path: str | os.PathLike[str] | None = None, workers: int | None = None):
        self.db_path = Path(db_path).expanduser() if db_path else default_db_path()
        self.workers = workers or min(4, os.cpu_count() or 1)
        self._lock = threading.RLock()
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.db_path), check_same_thread=False, timeout=30)
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"cannot open the library index {str(self.db_path)!r}: {exc}; choose another "
                              "place with --db or FOLEY_BRIDGE_DATA") from None
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            row = None
            try:
                row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            except sqlite3.OperationalError:
                pass
            if row is not None and row[0] != str(SCHEMA_VERSION):
                log.info("library index %s has schema %s; rebuilding", self.db_path, row[0])
                self._db.executescript("DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS files_fts;"
                                       "DROP TABLE IF EXISTS roots; DROP TABLE IF EXISTS meta;")
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "LibraryIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing

    def add(self, dirs: Sequence[str | os.PathLike[str]], progress: ProgressFn | None = None,
            cancel: threading.Event | None = None) -> AddReport:
        """Index folders: read new and changed files, forget vanished ones. Resumable."""
        roots = []
        for d in dirs:
            root = os.path.realpath(os.path.expanduser(str(d)))
            if not os.path.isdir(root):
                raise InputError(f"library folder {str(d)!r} does not exist or is not a folder")
            roots.append(root)
        report = AddReport(roots=roots)
        t0 = time.perf_counter()
        now = time.time()
        with self._lock:
            for root in roots:
                self._db.execute("INSERT OR IGNORE INTO roots (path, added_at) VALUES (?, ?)", (root, now))
            self._db.commit()
        todo: list[tuple[str, str, os.stat_result, bool]] = []
        seen: set[str] = set()
        for root in roots:
            known = self._known(root)
            for path, st in iter_audio_files(root):
                if path in seen:
                    continue
                seen.add(path)
                report.scanned += 1
                old = known.pop(path, None)
                if old is not None and old == (st.st_size, st.st_mtime_ns, ANALYSIS_VERSION):
                    report.unchanged += 1
                    continue
                todo.append((root, path, st, old is not None))
            gone = [p for p in known if p not in seen]
            if gone:
                with self._lock:
                    for p in gone:
                        self._delete(p)
                    self._db.commit()
                report.removed += len(gone)
        self._analyse_many(todo, report, progress, cancel)
        with self._lock:
            for root in roots:
                self._db.execute("UPDATE roots SET last_scan=? WHERE path=?", (time.time(), root))
            self._db.commit()
        report.seconds = time.perf_counter() - t0
        log.info("library: %d scanned, %d read, %d unchanged, %d removed in %.1f s", report.scanned,
                 len(report.analysed), report.unchanged, report.removed, report.seconds)
        return report

    def _analyse_many(self, todo: list[tuple[str, str, os.stat_result, bool]], report: AddReport,
                      progress: ProgressFn | None, cancel: threading.Event | None) -> None:
        total = len(todo)
        if progress:
            progress(0, total, "")
        if not total:
            return
        pending = 0
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="foley-index") as pool:
            results = pool.map(lambda item: analyse_file(item[1], item[2].st_size), todo)
            try:
                for done, (item, row) in enumerate(zip(todo, results), start=1):
                    root, path, st, existed = item
                    with self._lock:
                        self._upsert(path, root, st, row)
                    pending += 1
                    report.analysed.append(path)
                    if existed:
                        report.updated += 1
                    else:
                        report.added += 1
                    if row["status"] != "ok":
                        report.skipped[path] = row["reason"]
                    if pending >= BATCH_FILES:
                        with self._lock:
                            self._db.commit()
                        pending = 0
                    if progress:
                        progress(done, total, path)
                    if cancel is not None and cancel.is_set():
                        raise Cancelled(f"library indexing cancelled after {done} of {total} files; "
                                        "run add again to resume")
            except BaseException:  # cancelled, Ctrl-C: keep what is done, drop queued work
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            finally:
                with self._lock:
                    self._db.commit()

    def _known(self, root: str) -> dict[str, tuple[int, int, int]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT path, size, mtime_ns, version FROM files WHERE root=? OR path LIKE ? ESCAPE '\\'",
                (root, _like_prefix(root))).fetchall()
        return {r["path"]: (r["size"], r["mtime_ns"], r["version"]) for r in rows}

    def _upsert(self, path: str, root: str, st: os.stat_result, row: dict[str, Any]) -> None:
        values: dict[str, Any] = {c: None for c in _COLUMNS}
        values.update({k: v for k, v in row.items() if k in values})
        fits = ucs.kind_fits(row.get("category", ""), row.get("subcategory", "")) if row["status"] == "ok" \
            else {k: 0.0 for k in KINDS}
        values.update({f"fit_{k}": v for k, v in fits.items()})
        values.update(path=path, root=root, size=st.st_size, mtime_ns=st.st_mtime_ns, version=ANALYSIS_VERSION,
                      name=os.path.basename(path), indexed_at=time.time())
        self._delete(path)
        cur = self._db.execute(f"INSERT INTO files ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                               [values[c] for c in _COLUMNS])
        if row["status"] == "ok":
            stem = os.path.splitext(os.path.basename(path))[0]
            name_text = " ".join([values["fx_name"] or "", " ".join(ucs.tokens(stem))])
            cat_text = " ".join(str(values[c] or "") for c in ("category", "subcategory", "cat_id", "user_category"))
            desc_text = " ".join(str(values[c] or "") for c in ("description", "keywords"))
            self._db.execute("INSERT INTO files_fts (rowid, name, category, description) VALUES (?, ?, ?, ?)",
                             (cur.lastrowid, name_text, cat_text, desc_text))

    def _delete(self, path: str) -> int:
        old = self._db.execute("SELECT rowid FROM files WHERE path=?", (path,)).fetchone()
        if old is None:
            return 0
        self._db.execute("DELETE FROM files_fts WHERE rowid=?", (old[0],))
        self._db.execute("DELETE FROM files WHERE rowid=?", (old[0],))
        return 1

    def remove(self, directory: str | os.PathLike[str]) -> int:
        """Forget a library folder (or any folder inside one) and its files; returns files forgotten."""
        target = os.path.realpath(os.path.expanduser(str(directory)))
        with self._lock:
            roots = [r["path"] for r in self._db.execute("SELECT path FROM roots")]
            if not any(_within(target, r) or _within(r, target) for r in roots):
                raise InputError(f"{str(directory)!r} is not in the library; library folders: "
                                 f"{', '.join(roots) or '(none: add one with foley library add DIR)'}")
            n = self._remove_prefix(target)
            self._db.execute("DELETE FROM roots WHERE path=? OR path LIKE ? ESCAPE '\\'",
                             (target, _like_prefix(target)))
            self._db.commit()
        return n

    def _remove_prefix(self, target: str) -> int:
        paths = [r[0] for r in self._db.execute(
            "SELECT path FROM files WHERE path=? OR path LIKE ? ESCAPE '\\'", (target, _like_prefix(target)))]
        for p in paths:
            self._delete(p)
        return len(paths)

    def root_of(self, path: str) -> str | None:
        """The (innermost) library folder a path lies in, or None."""
        with self._lock:
            roots = [r["path"] for r in self._db.execute("SELECT path FROM roots")]
        inside = [r for r in roots if _within(path, r)]
        return max(inside, key=len) if inside else None

    def update_path(self, path: str) -> bool:
        """Index (or re-index) one file or a folder's files if they lie in a library folder."""
        path = os.path.realpath(path)
        root = self.root_of(path)
        if root is None:
            return False
        if os.path.isdir(path):
            self._update_tree(root, path)
            return True
        if os.path.splitext(path)[1].lower() not in AUDIO_EXTENSIONS or os.path.basename(path).startswith("."):
            return False
        try:
            st = os.stat(path)
        except OSError:
            return self.remove_path(path) > 0
        with self._lock:
            known = self._db.execute("SELECT size, mtime_ns, version FROM files WHERE path=?", (path,)).fetchone()
        if known is not None and tuple(known) == (st.st_size, st.st_mtime_ns, ANALYSIS_VERSION):
            return False
        row = analyse_file(path, st.st_size)
        with self._lock:
            self._upsert(path, root, st, row)
            self._db.commit()
        log.info("library: indexed %s (%s)", path, row["status"])
        return True

    def _update_tree(self, root: str, folder: str) -> None:
        todo = []
        known = self._known(folder)
        for path, st in iter_audio_files(folder):
            if known.get(path) != (st.st_size, st.st_mtime_ns, ANALYSIS_VERSION):
                todo.append((root, path, st, path in known))
        self._analyse_many(todo, AddReport(roots=[root]), None, None)

    def remove_path(self, path: str) -> int:
        """Forget a file, or every file under a folder, that vanished."""
        path = os.path.realpath(path) if os.path.exists(path) else os.path.abspath(path)
        with self._lock:
            n = self._remove_prefix(path)
            self._db.commit()
        if n:
            log.info("library: forgot %d file(s) under %s", n, path)
        return n

    # ------------------------------------------------------------------ reading

    def list_roots(self) -> list[dict[str, Any]]:
        """Library folders with their file counts."""
        with self._lock:
            roots = self._db.execute("SELECT path, added_at, last_scan FROM roots ORDER BY path").fetchall()
            out = []
            for r in roots:
                counts = dict(self._db.execute(
                    "SELECT status, COUNT(*) FROM files WHERE root=? GROUP BY status", (r["path"],)).fetchall())
                out.append({"path": r["path"], "files": counts.get("ok", 0), "skipped": counts.get("skipped", 0),
                            "added_at": r["added_at"], "last_scan": r["last_scan"],
                            "exists": os.path.isdir(r["path"])})
        return out

    def skipped(self) -> list[dict[str, str]]:
        """Files kept out of use, with the reason."""
        with self._lock:
            rows = self._db.execute("SELECT path, reason FROM files WHERE status='skipped' ORDER BY path").fetchall()
        return [{"path": r["path"], "reason": r["reason"]} for r in rows]

    def stats(self) -> dict[str, Any]:
        """Counts by status, category and event kind; total duration; the index location."""
        with self._lock:
            q = self._db.execute
            total = q("SELECT COUNT(*), COALESCE(SUM(duration_s), 0) FROM files WHERE status='ok'").fetchone()
            skipped = q("SELECT COUNT(*) FROM files WHERE status='skipped'").fetchone()[0]
            categories = {r[0] or "(none)": r[1] for r in q(
                "SELECT category, COUNT(*) FROM files WHERE status='ok' GROUP BY category ORDER BY 2 DESC")}
            kinds = {k: q(f"SELECT COUNT(*) FROM files WHERE status='ok' AND fit_{k} >= ?",
                          (ucs.FIT_MIN,)).fetchone()[0] for k in KINDS}
            reasons = {r[0]: r[1] for r in q(
                "SELECT reason, COUNT(*) FROM files WHERE status='skipped' GROUP BY reason ORDER BY 2 DESC")}
            n_roots = q("SELECT COUNT(*) FROM roots").fetchone()[0]
        return {"db": str(self.db_path), "roots": n_roots, "files": total[0], "skipped": skipped,
                "hours": round(total[1] / 3600.0, 3), "by_kind": kinds, "by_category": categories,
                "skip_reasons": reasons}

    def get(self, path: str) -> dict[str, Any] | None:
        """The raw index row of one file (any status), or None."""
        with self._lock:
            row = self._db.execute("SELECT * FROM files WHERE path=?", (os.path.realpath(path),)).fetchone()
        return dict(row) if row is not None else None

    def files(self, kind: str | None = None, roots: Iterable[str] | None = None,
              min_fit: float = ucs.FIT_MIN, category: str | None = None) -> list[LibraryFile]:
        """Usable files, optionally those fitting ``kind``, of UCS ``category`` and lying in ``roots``;
        sorted by path."""
        sql = "SELECT * FROM files WHERE status='ok'"
        args: list[Any] = []
        if category is not None:
            sql += " AND UPPER(category) = ?"
            args.append(category.upper())
        if kind is not None:
            if kind not in KINDS:
                raise InputError(f"event kind {kind!r} is not one of: {', '.join(KINDS)}")
            sql += f" AND fit_{kind} >= ?"
            args.append(min_fit)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY path", args).fetchall()
        out = [self._file(r) for r in rows]
        if roots is not None:
            rr = [os.path.realpath(r) for r in roots]
            out = [f for f in out if any(_within(f.path, r) for r in rr)]
        return out

    def search(self, text: str, kinds: Sequence[str] | None = None, limit: int = 20) -> list[LibraryFile]:
        """Files whose name, category or description match the words of ``text``.

        Ranked by how many distinct query words match, then by BM25 (name words weigh most).
        ``score`` is 0..1 (1 = best of this result). ``kinds`` keeps files fitting any of them.
        """
        words = list(dict.fromkeys(ucs.tokens(text)))
        if not words:
            raise InputError(f"search text {text!r} has no words; try e.g. \"gravel footsteps\"")
        for k in kinds or ():
            if k not in KINDS:
                raise InputError(f"event kind {k!r} is not one of: {', '.join(KINDS)}")
        match = " OR ".join(f'"{w}"' for w in words)
        kind_sql = ""
        args: list[Any] = [match]
        if kinds:
            kind_sql = " AND (" + " OR ".join(f"f.fit_{k} >= ?" for k in kinds) + ")"
            args += [ucs.FIT_MIN] * len(kinds)
        with self._lock:
            rows = self._db.execute(
                "SELECT f.*, bm25(files_fts, 3.0, 2.0, 1.0) AS rank FROM files_fts JOIN files f "
                f"ON f.rowid = files_fts.rowid WHERE files_fts MATCH ? AND f.status='ok'{kind_sql}",
                args).fetchall()
            coverage: dict[str, int] = {}
            for w in words:
                for r in self._db.execute("SELECT f.path FROM files_fts JOIN files f ON f.rowid = files_fts.rowid "
                                          "WHERE files_fts MATCH ?", (f'"{w}"',)):
                    coverage[r[0]] = coverage.get(r[0], 0) + 1
        if not rows:
            return []
        best = min(r["rank"] for r in rows)
        ranked = sorted(rows, key=lambda r: (-coverage.get(r["path"], 0), r["rank"], r["path"]))[:limit]
        out = []
        for r in ranked:
            f = self._file(r)
            cov = coverage.get(r["path"], 0) / len(words)
            f.score = round(0.7 * cov + 0.3 * (r["rank"] / best if best < 0 else 1.0), 4)
            out.append(f)
        return out

    @staticmethod
    def _file(r: sqlite3.Row) -> LibraryFile:
        return LibraryFile(
            path=r["path"], root=r["root"], status=r["status"], reason=r["reason"] or "", notes=r["notes"] or "",
            category=r["category"] or "", subcategory=r["subcategory"] or "", cat_id=r["cat_id"] or "",
            fx_name=r["fx_name"] or "", description=r["description"] or "", duration_s=r["duration_s"] or 0.0,
            sample_rate=r["sample_rate"] or 0, channels=r["channels"] or 0, rms_dbfs=r["rms_dbfs"] or -200.0,
            peak_dbfs=r["peak_dbfs"] or -200.0, transient_s=r["transient_s"] or 0.0,
            centroid_hz=r["centroid_hz"] or 0.0, brightness=r["brightness"] or 0.0,
            fits={k: r[f"fit_{k}"] or 0.0 for k in KINDS})


# --------------------------------------------------------------------------- watching

def start_watcher(index: LibraryIndex, roots: Sequence[str] | None = None) -> Callable[[], None]:
    """Keep ``index`` current for files added, changed, renamed or removed under ``roots``
    (default: every library folder). Returns ``stop()``."""
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer

    folders = [os.path.realpath(r) for r in (roots if roots is not None else [r["path"] for r in index.list_roots()])]
    folders = [f for f in folders if os.path.isdir(f)]
    watch_modified = sys.platform != "linux"  # inotify reports close-after-write; others only modify

    class Handler(FileSystemEventHandler):
        def _safe(self, fn: Callable[..., Any], *args: Any) -> None:
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - the watcher thread must survive any one bad file
                log.exception("library watcher: could not handle %s", args)

        def on_created(self, event: Any) -> None:
            if not event.is_directory:
                self._safe(index.update_path, event.src_path)

        def on_closed(self, event: Any) -> None:
            self._safe(index.update_path, event.src_path)

        def on_modified(self, event: Any) -> None:
            if watch_modified and not event.is_directory:
                self._safe(index.update_path, event.src_path)

        def on_moved(self, event: Any) -> None:
            self._safe(index.remove_path, event.src_path)
            self._safe(index.update_path, event.dest_path)

        def on_deleted(self, event: Any) -> None:
            self._safe(index.remove_path, event.src_path)

    observer = Observer()
    handler = Handler()
    for folder in folders:
        observer.schedule(handler, folder, recursive=True)
    observer.daemon = True
    observer.start()
    log.info("library watcher on %s", ", ".join(folders) or "(no folders)")

    def stop() -> None:
        observer.stop()
        observer.join(timeout=5)

    return stop
