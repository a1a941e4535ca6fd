"""What a sound backend returns for one event."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Sound:
    """Mono audio at ``sample_rate`` with its main transient ``snap_offset_s`` from the start.

    ``audio`` is float32, shape (samples,), peak level already set from the event's intensity
    (never above 1.0). ``source`` names the library file a retrieved sound came from (None when
    synthesized); ``backend`` names what made it; ``description`` is human text for the BWF bext.
    """

    audio: np.ndarray
    sample_rate: int
    snap_offset_s: float
    backend: str
    description: str
    source: str | None = None
