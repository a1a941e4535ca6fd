"""What a sound backend returns for one event, and what it says when it has nothing fitting."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Sound:
    """Mono audio at ``sample_rate`` with its main transient ``snap_offset_s`` from the start.

    ``audio`` is float32, shape (samples,), peak never above 1.0 (the engine sets the final level).
    ``source`` names the recording a sound came from (None when synthesized); ``backend`` names what
    made it; ``description`` is human text for the BWF bext; ``ucs`` the recording's own
    ``{"cat_id", "category", "subcategory"}`` when known; ``fallback`` why an earlier sound source
    in the chain was not used (None when the preferred source gave this sound).
    """

    audio: np.ndarray
    sample_rate: int
    snap_offset_s: float
    backend: str
    description: str
    source: str | None = None
    ucs: dict[str, str] | None = None
    fallback: str | None = None
    #: Loudness the engine set it to (LUFS, BS.1770); None before levelling.
    loudness_lufs: float | None = None


class NoMatch(Exception):
    """A sound source has nothing fitting this event; the message says why (not an error: the engine
    asks the next source in its chain)."""
