"""The sound-library index: the editor's own sound effects, analysed once, kept in SQLite.

``LibraryIndex`` walks folders (:mod:`models.library.paths`), makes one row per file
(:mod:`models.library.rows`: audio facts, names and metadata, or the reason it is skipped) and
keeps them with a full-text index of names, categories and descriptions. Only new or changed files
(size, mtime) are read again; work is committed in batches so an interrupted run resumes where it
stopped.

How well each file suits each event kind is stored as rows of ``fits (file, kind, fit)``, computed
from its UCS category and the kinds table (:mod:`bridge.kinds`); when that table changes, the fits
are recomputed on open (no audio is read). An index written by an older schema is migrated in
place (schema 1 kept the fits as one ``fit_<kind>`` column per kind).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from bridge.errors import Cancelled, InputError, OutputError
from models import ucs
from models.library.paths import AUDIO_EXTENSIONS, _like_prefix, _within, default_db_path, iter_audio_files
from models.library.rows import ANALYSIS_VERSION, AddReport, LibraryFile, analyse_file

log = logging.getLogger("foley.library")

SCHEMA_VERSION = 2
BATCH_FILES = 64
KINDS = tuple(ucs.KIND_FITS)

ProgressFn = Callable[[int, int, str], None]

_COLUMNS = ["path", "root", "size", "mtime_ns", "version", "status", "reason", "notes", "name", "cat_id",
            "category", "subcategory", "fx_name", "creator_id", "source_id", "user_category",
            "description", "keywords", "duration_s", "sample_rate", "channels", "subtype", "format",
            "rms_dbfs", "peak_dbfs", "transient_s", "centroid_hz", "brightness", "indexed_at"]

_FILES_TABLE = """CREATE TABLE IF NOT EXISTS {name} (
    path TEXT PRIMARY KEY, root TEXT NOT NULL, size INTEGER, mtime_ns INTEGER, version INTEGER,
    status TEXT NOT NULL, reason TEXT, notes TEXT, name TEXT, cat_id TEXT, category TEXT, subcategory TEXT,
    fx_name TEXT, creator_id TEXT, source_id TEXT, user_category TEXT, description TEXT, keywords TEXT,
    duration_s REAL, sample_rate INTEGER, channels INTEGER, subtype TEXT, format TEXT,
    rms_dbfs REAL, peak_dbfs REAL, transient_s REAL, centroid_hz REAL, brightness REAL, indexed_at REAL);"""

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS roots (path TEXT PRIMARY KEY, added_at REAL, last_scan REAL);
{_FILES_TABLE.format(name="files")}
CREATE INDEX IF NOT EXISTS files_root ON files(root);
CREATE TABLE IF NOT EXISTS fits (file INTEGER NOT NULL, kind TEXT NOT NULL, fit REAL NOT NULL,
    PRIMARY KEY (file, kind)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fits_kind ON fits(kind, fit);
CREATE VIRTUAL TABLE IF NOT EXISTS files_fts USING fts5(name, category, description,
    tokenize='porter unicode61');
"""


def fits_signature() -> str:
    """A digest of the kinds table's category fits: stored fits older than it are recomputed."""
    return hashlib.sha256(json.dumps(ucs.KIND_FITS, sort_keys=True).encode()).hexdigest()[:16]


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    """Schema 1 -> 2: the per-kind ``fit_<kind>`` columns become rows of ``fits`` (recomputed from the
    category afterwards); the files keep their rowids, so the full-text index stays valid."""
    db.execute("ALTER TABLE files RENAME TO files_v1")
    db.execute(_FILES_TABLE.format(name="files"))
    cols = ", ".join(_COLUMNS)
    db.execute(f"INSERT INTO files (rowid, {cols}) SELECT rowid, {cols} FROM files_v1")
    db.execute("DROP TABLE files_v1")


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
            found = row[0] if row is not None else None
            try:
                if found == "1":
                    log.info("library index %s has schema 1; migrating to %d", self.db_path, SCHEMA_VERSION)
                    with self._db:
                        _migrate_1_to_2(self._db)
                elif found is not None and found != str(SCHEMA_VERSION):
                    raise OutputError(f"the library index {str(self.db_path)!r} has schema {found}, newer than "
                                      f"this foley-bridge ({SCHEMA_VERSION}); update foley-bridge or choose "
                                      "another index with --db or FOLEY_BRIDGE_DATA")
                self._db.executescript(_SCHEMA)
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                self._db.commit()
                self._refresh_fits()
            except sqlite3.Error as exc:
                raise OutputError(f"the library index {str(self.db_path)!r} cannot be read or updated: {exc}; "
                                  "choose another place with --db or FOLEY_BRIDGE_DATA") from None

    def _refresh_fits(self) -> None:
        """Recompute every file's fits when the kinds table changed since they were stored."""
        sig = fits_signature()
        row = self._db.execute("SELECT value FROM meta WHERE key='fits'").fetchone()
        if row is not None and row[0] == sig:
            return
        rows = self._db.execute("SELECT rowid, status, category, subcategory FROM files").fetchall()
        with self._db:
            self._db.execute("DELETE FROM fits")
            for r in rows:
                self._write_fits(r[0], r[1], r[2], r[3])
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('fits', ?)", (sig,))
        if rows:
            log.info("library index %s: fits of %d file(s) recomputed", self.db_path, len(rows))

    def _write_fits(self, rowid: int, status: str, category: str | None, subcategory: str | None) -> None:
        fits = ucs.kind_fits(category or "", subcategory or "") if status == "ok" else {}
        self._db.executemany("INSERT OR REPLACE INTO fits (file, kind, fit) VALUES (?, ?, ?)",
                             [(rowid, k, v) for k, v in fits.items() if v > 0])

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
        values.update(path=path, root=root, size=st.st_size, mtime_ns=st.st_mtime_ns, version=ANALYSIS_VERSION,
                      name=os.path.basename(path), indexed_at=time.time())
        self._delete(path)
        cur = self._db.execute(f"INSERT INTO files ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                               [values[c] for c in _COLUMNS])
        assert cur.lastrowid is not None
        self._write_fits(cur.lastrowid, row["status"], values["category"], values["subcategory"])
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
        self._db.execute("DELETE FROM fits WHERE file=?", (old[0],))
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
            counted = dict(q("SELECT kind, COUNT(*) FROM fits JOIN files f ON f.rowid = fits.file "
                             "WHERE f.status='ok' AND fit >= ? GROUP BY kind", (ucs.FIT_MIN,)).fetchall())
            kinds = {k: counted.get(k, 0) for k in KINDS}
            reasons = {r[0]: r[1] for r in q(
                "SELECT reason, COUNT(*) FROM files WHERE status='skipped' GROUP BY reason ORDER BY 2 DESC")}
            n_roots = q("SELECT COUNT(*) FROM roots").fetchone()[0]
        return {"db": str(self.db_path), "roots": n_roots, "files": total[0], "skipped": skipped,
                "hours": round(total[1] / 3600.0, 3), "by_kind": kinds, "by_category": categories,
                "skip_reasons": reasons}

    def get(self, path: str) -> dict[str, Any] | None:
        """The raw index row of one file (any status) with its ``fits`` by kind, or None."""
        with self._lock:
            row = self._db.execute("SELECT rowid AS rid, * FROM files WHERE path=?",
                                   (os.path.realpath(path),)).fetchone()
            if row is None:
                return None
            out = dict(row)
            out["fits"] = self._fits([out.pop("rid")]).get(row["rid"], {})
        return out

    def _fits(self, rowids: Sequence[int]) -> dict[int, dict[str, float]]:
        """Fits by kind of the given files (missing kinds fit 0)."""
        out: dict[int, dict[str, float]] = {r: {k: 0.0 for k in KINDS} for r in rowids}
        for lo in range(0, len(rowids), 500):
            chunk = list(rowids[lo:lo + 500])
            marks = ", ".join("?" * len(chunk))
            for file, kind, fit in self._db.execute(
                    f"SELECT file, kind, fit FROM fits WHERE file IN ({marks})", chunk):
                out[file][kind] = fit
        return out

    def files(self, kind: str | None = None, roots: Iterable[str] | None = None,
              min_fit: float = ucs.FIT_MIN, category: str | None = None) -> list[LibraryFile]:
        """Usable files, optionally those fitting ``kind``, of UCS ``category`` and lying in ``roots``;
        sorted by path."""
        sql = "SELECT f.rowid AS rid, f.* FROM files f WHERE f.status='ok'"
        args: list[Any] = []
        if category is not None:
            sql += " AND UPPER(f.category) = ?"
            args.append(category.upper())
        if kind is not None:
            if kind not in KINDS:
                raise InputError(f"event kind {kind!r} is not one of: {', '.join(KINDS)}")
            sql += " AND EXISTS (SELECT 1 FROM fits WHERE fits.file = f.rowid AND fits.kind = ? AND fits.fit >= ?)"
            args += [kind, min_fit]
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY f.path", args).fetchall()
            if roots is not None:
                rr = [os.path.realpath(r) for r in roots]
                rows = [r for r in rows if any(_within(r["path"], root) for root in rr)]
            fits = self._fits([r["rid"] for r in rows])
        return [self._file(r, fits[r["rid"]]) for r in rows]

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
            kind_sql = (" AND EXISTS (SELECT 1 FROM fits WHERE fits.file = f.rowid AND fits.fit >= ? AND fits.kind IN ("
                        + ", ".join("?" * len(kinds)) + "))")
            args += [ucs.FIT_MIN, *kinds]
        with self._lock:
            rows = self._db.execute(
                "SELECT f.rowid AS rid, f.*, bm25(files_fts, 3.0, 2.0, 1.0) AS rank FROM files_fts JOIN files f "
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
        with self._lock:
            fits = self._fits([r["rid"] for r in ranked])
        out = []
        for r in ranked:
            f = self._file(r, fits[r["rid"]])
            cov = coverage.get(r["path"], 0) / len(words)
            f.score = round(0.7 * cov + 0.3 * (r["rank"] / best if best < 0 else 1.0), 4)
            out.append(f)
        return out

    @staticmethod
    def _file(r: sqlite3.Row, fits: dict[str, float]) -> LibraryFile:
        return LibraryFile(
            path=r["path"], root=r["root"], status=r["status"], reason=r["reason"] or "", notes=r["notes"] or "",
            category=r["category"] or "", subcategory=r["subcategory"] or "", cat_id=r["cat_id"] or "",
            fx_name=r["fx_name"] or "", description=r["description"] or "", duration_s=r["duration_s"] or 0.0,
            sample_rate=r["sample_rate"] or 0, channels=r["channels"] or 0, rms_dbfs=r["rms_dbfs"] or -200.0,
            peak_dbfs=r["peak_dbfs"] or -200.0, transient_s=r["transient_s"] or 0.0,
            centroid_hz=r["centroid_hz"] or 0.0, brightness=r["brightness"] or 0.0,
            fits=dict(fits))
