"""The output folder rule: a job writes a new folder, or replaces a folder that is wholly its own.

Every result folder carries a marker file listing the files the job wrote. An existing folder is
replaced only when it is empty, or when it holds nothing but what its marker lists; anything else in
it (the user's video, their documents, files added after the job) makes the job refuse before it
starts, and again at the moment of the swap. Nothing the job did not create is ever deleted.
"""
from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

from bridge.errors import OutputError

#: Written last into every result folder; lists the folder's files (relative, '/'-separated).
MARKER = ".foley-bridge-result.json"


def _listing(folder: Path) -> list[str]:
    names = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            names.append((rel / name).as_posix())
    return sorted(names)


def write_marker(folder: Path) -> None:
    """Record what ``folder`` holds now as the job's own files."""
    files = [n for n in _listing(folder) if n != MARKER]
    (folder / MARKER).write_text(json.dumps({"tool": "foley-bridge", "files": files}, indent=1),
                                 encoding="utf-8")


def foreign_entry(folder: Path) -> str | None:
    """The first entry of an existing ``folder`` that a previous job of ours did not write, or None."""
    try:
        present = _listing(folder)
    except OSError as exc:
        return f"(unreadable: {exc.strerror})"
    if not present:
        return None
    if folder.is_symlink():
        return "(the folder is a symbolic link)"
    try:
        doc = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        ours = set(doc["files"]) | {MARKER}
    except (OSError, ValueError, KeyError, TypeError):
        return present[0]
    for name in present:
        if name not in ours:
            return name
    return None


def check_output_dir(out_dir: Path) -> None:
    """Refuse, before any work, an output location the job could not write or must not replace."""
    parent = out_dir.parent
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"output folder {str(out_dir)!r} cannot be created: {str(parent)!r} is a file")
    if not parent.exists():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"output folder {str(out_dir)!r} cannot be created: {exc.strerror}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {str(out_dir)!r} is not writable; choose another with -o")
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise OutputError(f"output path {str(out_dir)!r} exists and is not a folder; choose another with -o")
    if out_dir.exists():
        foreign = foreign_entry(out_dir)
        if foreign is not None:
            raise OutputError(
                f"output folder {str(out_dir)!r} already holds {foreign!r}, which foley-bridge did not write; "
                "choose a new or empty folder with -o (only a previous foley-bridge result is replaced)")


def replace_dir(tmp: Path, final: Path) -> None:
    """Move a finished temp folder into place. An existing folder is swapped out and removed only if it
    is empty or wholly a previous result of ours (checked again now, not only when the job started)."""
    write_marker(tmp)
    old = None
    if final.is_symlink() or final.exists():
        check_output_dir(final)
        old = final.with_name(f".{final.name}.old-{os.getpid()}-{threading.get_ident()}")
        os.replace(final, old)
        foreign = foreign_entry(old)
        if foreign is not None:  # changed between the check and the swap: put it back untouched
            os.replace(old, final)
            raise OutputError(f"output folder {str(final)!r} changed while the job ran (it now holds "
                              f"{foreign!r}); nothing was replaced; run again with a new folder")
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
