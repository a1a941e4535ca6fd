"""Registry of sound backends by name, imported lazily ("module:Class", uvicorn style).

A backend turns an :class:`bridge.event.Event` into a :class:`models.sound.Sound`. Library
retrieval and neural models plug in here by adding a name.
"""
from __future__ import annotations

import importlib
from typing import Any

from bridge.errors import BackendError

BACKENDS: dict[str, str] = {
    "synth": "models.synth:SynthBackend",
    "library": "models.library_backend:LibraryBackend",
}


def backend_class(name: str) -> Any:
    try:
        target = BACKENDS[name]
    except KeyError:
        raise BackendError(f"sound backend {name!r} is not known; available: {', '.join(BACKENDS)}") from None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise BackendError(f"sound backend {name!r} ({target}) cannot be loaded: {exc}") from None
