"""The "library" sound source: recordings from the editor's own indexed library.

Settings: ``library`` (folders; default every indexed folder), ``query`` (words that steer the
choice) and ``add_to_library``. Folders not in the user's index yet are indexed when the backend is
made: into the user's index when ``add_to_library`` is true or None (the CLI and the API), else
(daemon requests) into a private in-memory index for this backend only, so the user's index is
not changed unless asked. The choice and the cut
are those of :mod:`models.recorded`; when the library has nothing of an event's category the
backend raises :class:`models.sound.NoMatch` and the engine asks the next source (the kit, then
the synthesizer).
"""
from __future__ import annotations

import logging
import os
from typing import Sequence

from bridge.errors import BackendError, InputError
from bridge.event import Event
from models.library import KINDS, LibraryFile, LibraryIndex, default_db_path
from models.recorded import (  # noqa: F401 - helpers re-exported for callers of this module
    PREROLL_S,
    RecordingBackend,
    loop_to_length,
    percentile_ranks,
)
from models.sound import NoMatch

log = logging.getLogger("foley.library_backend")


def library_configured(folders: Sequence[str]) -> bool:
    """True when a job names library folders or the user's default index has any."""
    if folders:
        return True
    db = default_db_path()
    if not db.is_file():
        return False
    try:
        with LibraryIndex(db) as index:
            return bool(index.list_roots())
    except Exception as exc:  # noqa: BLE001 - an unreadable index means no library, said in the log
        log.warning("the sound library index %s cannot be read (%s); using the bundled kit", db, exc)
        return False


class LibraryBackend(RecordingBackend):
    """Sound source "library"; see the module docstring."""

    name = "library"

    def __init__(self, device: str = "cpu", library: Sequence[str] | None = None, query: str | None = None,
                 add_to_library: bool | None = None, index: LibraryIndex | None = None) -> None:
        super().__init__(device=device, query=query)
        self.index = index if index is not None else LibraryIndex()
        self.roots = [os.path.realpath(os.path.expanduser(d)) for d in (library or [])]
        known = {r["path"] for r in self.index.list_roots()}
        missing = [r for r in self.roots if r not in known]
        if missing and add_to_library is False:
            # Not asked to change the user's index: this backend indexes its folders privately.
            self.index = LibraryIndex(":memory:")
            missing = self.roots
        if missing:
            log.info("indexing library folder(s) %s", ", ".join(missing))
            try:
                self.index.add(missing)
            except InputError as exc:
                raise BackendError(f"library backend: {exc}") from None
        if not self.roots:
            self.roots = sorted(known)
        if not self.roots:
            log.info("the sound library is empty (index %s)", self.index.db_path)
        if self.query:
            hits = self.index.search(self.query, limit=1_000_000)
            self._query_scores = {f.path: f.score for f in hits}
            log.info("library query %r matches %d file(s)", self.query, len(hits))
        self._by_category: dict[str, list[LibraryFile]] = {}

    def candidates(self, target: dict[str, str], event: Event) -> list[LibraryFile]:
        """The target's category first; a library named in its own words may hold the sound under
        another category, so then any file whose category fits the event kind."""
        files = super().candidates(target, event)
        if not files and event.kind in KINDS:
            with self._lock:
                key = f"kind:{event.kind}"
                if key not in self._by_category:
                    self._by_category[key] = self.index.files(kind=event.kind, roots=self.roots)
                files = self._by_category[key]
        return files

    def category_files(self, category: str) -> list[LibraryFile]:
        if not self.roots:
            raise NoMatch("the sound library is empty (add folders with `foley library add DIR` or pass --library DIR)")
        with self._lock:
            if category not in self._by_category:
                self._by_category[category] = self.index.files(category=category, roots=self.roots)
            return self._by_category[category]
