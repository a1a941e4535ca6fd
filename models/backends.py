"""Registry of sound sources by name, imported lazily ("module:Class", uvicorn style).

A backend turns an :class:`bridge.event.Event` into a :class:`models.sound.Sound`, or raises
:class:`models.sound.NoMatch` when it has nothing fitting. Each entry declares the job settings
(:class:`bridge.options.Options` fields) its constructor takes besides ``device``; a backend never
sees the rest of a job's options. The engine asks the sources of :func:`chain` in order.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Sequence

from bridge.errors import BackendError


@dataclass(frozen=True)
class BackendSpec:
    target: str                       # "module:Class"
    settings: tuple[str, ...] = ()    # Options fields passed to the constructor as keywords
    help: str = ""
    #: Runs on the engine's device (GPU when present) with torch; the others run on the CPU without it.
    torch: bool = False


BACKENDS: dict[str, BackendSpec] = {
    "library": BackendSpec("models.library_backend:LibraryBackend", ("library", "query", "add_to_library"),
                           "recordings from your own indexed library"),
    "kit": BackendSpec("models.kit_backend:KitBackend", (), "the recordings bundled with foley-bridge"),
    "synth": BackendSpec("models.synth:SynthBackend", (), "procedural synthesis", torch=True),
}
#: The order sources are asked in: the user's library, the bundled kit, the synthesizer.
FALLBACK_ORDER = ("library", "kit", "synth")
#: ``--backend auto``: the library when one is configured, else the kit; then what follows.
AUTO = "auto"
CHOICES = (AUTO, *BACKENDS)


def spec(name: str) -> BackendSpec:
    try:
        return BACKENDS[name]
    except KeyError:
        raise BackendError(f"sound backend {name!r} is not known; available: {', '.join(CHOICES)}") from None


def backend_class(name: str) -> Any:
    target = spec(name).target
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise BackendError(f"sound backend {name!r} ({target}) cannot be loaded: {exc}") from None


def settings_of(name: str, options: Any) -> tuple[tuple[str, Any], ...]:
    """The (field, value) settings of backend ``name`` taken from job ``options`` (hashable)."""
    out = []
    for f in spec(name).settings:
        value = getattr(options, f, None)
        out.append((f, tuple(value) if isinstance(value, list) else value))
    return tuple(out)


def chain(backend: str, library_configured: bool) -> list[str]:
    """Sources to ask, in order, for a job's ``backend`` choice."""
    if backend == AUTO:
        return list(FALLBACK_ORDER if library_configured else FALLBACK_ORDER[1:])
    spec(backend)
    if backend in FALLBACK_ORDER:
        return list(FALLBACK_ORDER[FALLBACK_ORDER.index(backend):])
    return [backend, "synth"]


def preload_names(backends: Sequence[str], one_shot: bool = False) -> list[str]:
    """Backends worth loading before any job: those named, "auto" standing for the kit and synth
    (the library depends on each job's folders, so it loads with its first job). ``one_shot``: a run
    that ends after its job preloads only the first source of each chain; the fallbacks load if an
    event needs them (the synthesizer's transients import torch, about 2 s of CPU)."""
    out: list[str] = []
    for name in backends:
        names = FALLBACK_ORDER[1:] if name == AUTO else chain(name, False)
        for n in names[:1] if one_shot else names:
            if n not in out and not spec(n).settings:
                out.append(n)
    return out
