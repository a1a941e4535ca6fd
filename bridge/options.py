"""Job options: one explicit object, built once from CLI flags, a request or API keywords."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from bridge.errors import InputError
from bridge.kinds import KINDS, parse_kinds

PRECISIONS = ("normal", "high")
DEVICES = ("auto", "cpu", "cuda")
FORMATS = ("otio", "xml", "aaf")


@dataclass
class Options:
    """What a job should do. Every field has a sane default."""

    spatial: bool = True
    precision: str = "normal"
    music_suppression: float = 0.3
    seed: int = 0
    device: str = "auto"
    #: Sound source: "auto" (the user's library when configured, then the bundled kit, then the
    #: synthesizer), or one of models.backends.BACKENDS to start the chain there.
    backend: str = "auto"
    library: list[str] = field(default_factory=list)
    query: str | None = None
    formats: list[str] = field(default_factory=lambda: ["otio"])
    kinds: list[str] = field(default_factory=lambda: list(KINDS))

    def validate(self) -> "Options":
        if self.precision not in PRECISIONS:
            raise InputError(f"precision {self.precision!r} is not one of: {', '.join(PRECISIONS)}")
        if self.device not in DEVICES:
            raise InputError(f"device {self.device!r} is not one of: {', '.join(DEVICES)}")
        if not isinstance(self.music_suppression, (int, float)) or not 0.0 <= float(self.music_suppression) <= 1.0:
            raise InputError(
                f"music suppression {self.music_suppression!r} must be a number from 0 (keep the original "
                "audio as is) to 1 (mute it)")
        self.music_suppression = float(self.music_suppression)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise InputError(f"seed {self.seed!r} must be an integer")
        bad = [f for f in self.formats if f not in FORMATS]
        if bad or not self.formats:
            raise InputError(f"format {','.join(bad) or '(none)'!r} is not one of: {', '.join(FORMATS)}")
        self.kinds = parse_kinds(self.kinds)
        if not isinstance(self.spatial, bool):
            raise InputError(f"spatial {self.spatial!r} must be true or false")
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "Options":
        """Build from a request's ``options`` object; unknown keys are an error naming the valid ones."""
        data = dict(data or {})
        names = {f.name for f in fields(cls)}
        aliases = {"enable_spatial_audio": "spatial", "match_precision": "precision",
                   "background_music_suppression": "music_suppression", "format": "formats"}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            key = aliases.get(key, key)
            if key not in names:
                raise InputError(f"unknown option {key!r}; valid options: {', '.join(sorted(names))}")
            kwargs[key] = value
        if isinstance(kwargs.get("formats"), str):
            kwargs["formats"] = [s.strip() for s in kwargs["formats"].split(",") if s.strip()]
        if isinstance(kwargs.get("library"), str):
            kwargs["library"] = [kwargs["library"]]
        if isinstance(kwargs.get("kinds"), str):
            kwargs["kinds"] = parse_kinds(kwargs["kinds"])
        return cls(**kwargs).validate()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
