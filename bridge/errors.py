"""One exception family. Library code raises these; only the CLI prints and picks the exit code."""
from __future__ import annotations


class FoleyError(Exception):
    """Base of every error foley-bridge raises on purpose. ``code`` is a short machine-readable tag."""

    code = "error"
    exit_code = 2


class InputError(FoleyError):
    """The user's input is wrong: missing file, not a video, bad range, bad option value."""

    code = "bad_input"


class OutputError(FoleyError):
    """An output location cannot be written."""

    code = "bad_output"


class BackendError(FoleyError):
    """A sound backend or model cannot be loaded or used."""

    code = "backend"


class PermissionDenied(FoleyError):
    """A request names a path outside the roots the user allowed."""

    code = "forbidden"


class Cancelled(FoleyError):
    """The job was cancelled."""

    code = "cancelled"
    exit_code = 130
