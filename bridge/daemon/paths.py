"""Where the daemon keeps its state and outputs, and which folders requests may name."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterable

from bridge.errors import PermissionDenied

APP = "foley-bridge"


def _platform_dir(xdg_var: str, xdg_default: str, mac: str, win_var: str) -> Path:
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / mac / APP
    if os.name == "nt":
        return Path(os.environ.get(win_var) or home / "AppData" / "Local") / APP
    return Path(os.environ.get(xdg_var) or home / xdg_default) / APP


def state_dir() -> Path:
    """Journal, lock files and daemon logs. ``FOLEY_STATE_DIR`` overrides."""
    override = os.environ.get("FOLEY_STATE_DIR")
    if override:
        return Path(override).expanduser().absolute()
    return _platform_dir("XDG_STATE_HOME", ".local/state", "Application Support", "LOCALAPPDATA")


def output_root() -> Path:
    """Where jobs without an ``output_dir`` write. ``FOLEY_OUTPUT_ROOT`` overrides."""
    override = os.environ.get("FOLEY_OUTPUT_ROOT")
    if override:
        return Path(override).expanduser().absolute()
    return _platform_dir("XDG_DATA_HOME", ".local/share", "Application Support", "LOCALAPPDATA") / "jobs"


def daemon_log(port: int) -> Path:
    return state_dir() / f"daemon-{port}.log"


def env_allowed() -> list[str]:
    """Extra allowed roots from ``FOLEY_ALLOW`` (``os.pathsep``-separated)."""
    raw = os.environ.get("FOLEY_ALLOW", "")
    return [p for p in raw.split(os.pathsep) if p.strip()]


class AllowedRoots:
    """The folders a request may read from or write to. Paths are compared after resolving links."""

    def __init__(self, roots: Iterable[str | os.PathLike]) -> None:
        resolved = []
        for root in roots:
            path = Path(root).expanduser().resolve()
            if path not in resolved:
                resolved.append(path)
        self.roots = resolved

    @classmethod
    def default(cls, extra: Iterable[str | os.PathLike] = ()) -> "AllowedRoots":
        return cls([Path.home(), output_root(), *env_allowed(), *extra])

    def add(self, root: str | os.PathLike) -> None:
        path = Path(root).expanduser().resolve()
        if path not in self.roots:
            self.roots.append(path)

    def allows(self, path: str | os.PathLike) -> bool:
        real = Path(path).expanduser().resolve()
        return any(real == root or root in real.parents for root in self.roots)

    def check(self, path: str | os.PathLike, what: str) -> Path:
        """Return the path with every link resolved, or raise PermissionDenied naming the path and the fix.

        The resolved path is what the job must use later: a link swapped after this check then cannot
        take the job elsewhere (and :meth:`recheck` refuses a path that no longer resolves to itself).
        """
        if not self.allows(path):
            roots = ", ".join(str(r) for r in self.roots)
            raise PermissionDenied(
                f"{what} {str(path)!r} is outside the folders this daemon may use ({roots}); restart it "
                f"with `foley serve --allow DIR` (or set FOLEY_ALLOW) to allow that folder")
        return Path(path).expanduser().resolve()

    def check_output(self, path: str | os.PathLike, what: str = "output_dir") -> Path:
        """An output folder: its parent resolved, its own name kept (a link there is refused later)."""
        path = Path(path).expanduser()
        if path.name in ("", ".", ".."):
            path = path.resolve()
        return self.check(path.parent, what) / path.name

    def recheck(self, resolved: str | os.PathLike, what: str) -> None:
        """At the moment of use: ``resolved`` (from :meth:`check`) must still resolve to itself, inside a root."""
        path = Path(resolved)
        now = path.resolve()
        if now != path:
            raise PermissionDenied(f"{what} {str(path)!r} now leads to {str(now)!r} (a folder on its path was "
                                   "replaced by a link after the job was submitted); nothing was read or "
                                   "written there; submit the job again")
        self.check(now, what)

    def to_json(self) -> list[str]:
        return [str(r) for r in self.roots]
