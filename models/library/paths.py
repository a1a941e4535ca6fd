"""Where the library index lives and which files are library audio (no audio, no SQLite)."""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Iterator

log = logging.getLogger("foley.library")

AUDIO_EXTENSIONS = frozenset([".wav", ".wave", ".bwf", ".flac", ".aif", ".aiff", ".aifc", ".ogg",
                              ".oga", ".mp3"])


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
