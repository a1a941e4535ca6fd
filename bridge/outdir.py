"""The output folder rule: a job writes a new folder, or replaces a folder that is wholly its own.

Every result folder carries a marker file listing the files the job wrote. An existing folder is
replaced only when it is empty, or when it holds nothing but what its marker lists; anything else in
it (the user's video, their documents, files added after the job) makes the job refuse before it
starts, and again at the moment of the swap. Nothing the job did not create is ever deleted.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
import threading
from pathlib import Path

from bridge.errors import OutputError

#: Written last into every result folder; lists the folder's files (relative, '/'-separated).
MARKER = ".foley-bridge-result.json"


def _listing(folder: Path) -> list[str]:
    names = []

    def unreadable(exc: OSError) -> None:
        raise exc

    for root, dirs, files in os.walk(folder, onerror=unreadable):
        rel = Path(root).relative_to(folder)
        # every folder counts too: an empty one the user made in a previous result is theirs
        for name in files + dirs:
            names.append((rel / name).as_posix())
    return sorted(names)


_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process umask, read without loosening it even for a moment (other threads create files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _umask_lock:  # briefly stricter, never looser
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def follow_umask(path: str | os.PathLike, folder: bool = False) -> None:
    """Give a file or folder that a temp-file call created private (0600/0700) the mode any tool
    would give it: 0666 or 0777 less the umask."""
    os.chmod(path, (0o777 if folder else 0o666) & ~current_umask())


def make_temp_dir(out_dir: Path) -> Path:
    """The job's temp folder beside ``out_dir`` (``.NAME.tmp-*``), with the umask's mode."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    follow_umask(tmp, folder=True)
    return tmp


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


def write_error(out_dir: Path, exc: OSError) -> OutputError:
    """The one-line error for a result that could not be written (disk full, folder read-only)."""
    import errno

    why = exc.strerror or str(exc)
    hint = "free some space there" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "check the folder"
    return OutputError(f"cannot write the results into {str(out_dir.parent)!r}: {why}; nothing was written; "
                       f"{hint} or choose another folder with -o")


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
        os.chmod(tmp, stat.S_IMODE(final.stat().st_mode))  # the folder at that path keeps its mode
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


def safe_name(text: str, fallback: str, max_len: int = 80) -> str:
    """``text`` as a portable folder name: letters, digits, ``.``, ``_`` and ``-``; never hidden or empty."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")[:max_len] or fallback
