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
    #: Room response from the scene and distance from the object's size on each clip (models.space).
    room: bool = True
    precision: str = "normal"
    music_suppression: float = 0.3
    seed: int = 0
    device: str = "auto"
    #: Sound source: "auto" (the user's library when configured, then the bundled kit, then the
    #: synthesizer), or one of models.backends.BACKENDS to start the chain there.
    backend: str = "auto"
    library: list[str] = field(default_factory=list)
    #: Whether library folders not yet in the user's sound-library index are added to it for good.
    #: None: the caller's default (yes for the CLI and the Python API; no for daemon requests).
    add_to_library: bool | None = None
    query: str | None = None
    formats: list[str] = field(default_factory=lambda: ["otio"])
    kinds: list[str] = field(default_factory=lambda: list(KINDS))
    #: The editor's words for the shot ("hammer on a metal plate, workshop"); steers what events sound like.
    prompt: str | None = None

    def validate(self) -> "Options":
        for name, value in (("backend", self.backend), ("precision", self.precision), ("device", self.device)):
            if not isinstance(value, str):
                raise InputError(f"{name} {value!r:.80} must be a string")
        if self.query is not None and not isinstance(self.query, str):
            raise InputError(f"query {self.query!r:.80} must be a string")
        for name, values in (("library", self.library), ("formats", self.formats)):
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise InputError(f"{name} {values!r:.80} must be a list of strings")
        if self.add_to_library is not None and not isinstance(self.add_to_library, bool):
            raise InputError(f"add_to_library {self.add_to_library!r:.80} must be true or false")
        if self.precision not in PRECISIONS:
            raise InputError(f"precision {self.precision!r} is not one of: {', '.join(PRECISIONS)}")
        if self.device not in DEVICES:
            raise InputError(f"device {self.device!r} is not one of: {', '.join(DEVICES)}")
        ms = self.music_suppression
        if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not (-1 < ms < 2 and 0.0 <= float(ms) <= 1.0):
            raise InputError(
                f"music suppression {self.music_suppression!r:.80} must be a number from 0 (keep the original "
                "audio as is) to 1 (mute it)")
        self.music_suppression = float(self.music_suppression)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2 ** 32:
            raise InputError(f"seed {self.seed!r:.80} must be an integer from 0 to {2 ** 32 - 1}")
        from models.backends import CHOICES

        if self.backend not in CHOICES:
            raise InputError(f"sound backend {self.backend!r:.80} is not known; available: {', '.join(CHOICES)}")
        bad = [f for f in self.formats if f not in FORMATS]
        if bad or not self.formats:
            raise InputError(f"format {','.join(bad) or '(none)'!r} is not one of: {', '.join(FORMATS)}")
        self.kinds = parse_kinds(self.kinds)
        if self.prompt is not None:
            from models.prompt import parse

            parse(self.prompt)
        if not isinstance(self.spatial, bool):
            raise InputError(f"spatial {self.spatial!r} must be true or false")
        if not isinstance(self.room, bool):
            raise InputError(f"room {self.room!r:.80} must be true or false")
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "Options":
        """Build from a request's ``options`` object; unknown keys are an error naming the valid ones."""
        if data is not None and not isinstance(data, dict):
            raise InputError(f"options {data!r:.80} must be a JSON object of option names and values")
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
