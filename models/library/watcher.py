"""Keeping an index current while a daemon runs (watchdog)."""
from __future__ import annotations

import logging
import os
import sys
from typing import Any, Callable, Sequence

from models.library.index import LibraryIndex

log = logging.getLogger("foley.library")


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
