"""The sound stage for one event: ask the job's sound sources in order, then set the level.

The engine gives the sources (:meth:`bridge.pipeline.Engine.sources`): the user's library when one
is configured, the bundled kit, the synthesizer. A source with nothing fitting raises
:class:`models.sound.NoMatch`; its reason is kept in ``Sound.fallback`` and the next source is
asked. Every sound is then set to its category's reference loudness scaled by the intensity
(:mod:`models.levels`), and shaped by the scene's room and the object's distance (:mod:`models.space`)
unless the job turned that off.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from bridge.errors import BackendError
from bridge.event import Event
from models.sound import NoMatch, Sound

log = logging.getLogger("foley.sound")


class Deferred:
    """A fallback source loaded the first time an event reaches it: a one-shot run whose kit has a
    sound for every event never loads the synthesizer (and never imports torch)."""

    #: Unknown until loaded: a chain holding one renders on one thread.
    thread_safe = False

    def __init__(self, name: str, load: Callable[[], Any]) -> None:
        self.name = name
        self._load = load
        self._source: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._source is None:
                log.info("loading the %s source: an event needs it", self.name)
                self._source = self._load()
            return self._source


_UNSET = object()


class SoundChain:
    """A job's sources with their per-job choice state."""

    def __init__(self, sources: list[Any], seed: int, room: bool = True) -> None:
        self.sources = sources
        self.seed = seed
        self.room = room
        self._choices: list[Any] = [_UNSET if isinstance(s, Deferred) else _new_choices(s) for s in sources]

    @property
    def thread_safe(self) -> bool:
        return all(getattr(s, "thread_safe", False) for s in self.sources)

    def _source(self, i: int) -> tuple[Any, Any]:
        source = self.sources[i]
        if isinstance(source, Deferred):
            source = source.get()
            if self._choices[i] is _UNSET:
                self._choices[i] = _new_choices(source)
        return source, self._choices[i]

    def render(self, event: Event, sample_rate: int) -> Sound:
        """The event's sound, chosen (:meth:`choose`) and shaped (:meth:`shape`)."""
        return self.shape(event, self.choose(event, sample_rate), sample_rate)

    def choose(self, event: Event, sample_rate: int) -> Sound:
        """The event's sound from the first source that has one, as the source made it. Sources with per-job
        choices (recordings avoid repeats in time order) want the events in order, one at a time."""
        from models.recorded import target_ucs

        if not event.ucs:
            event.ucs = target_ucs(event)
        reasons: list[str] = []
        sound: Sound | None = None
        for i in range(len(self.sources)):
            source, choices = self._source(i)
            try:
                if choices is not None:
                    sound = source.render(event, sample_rate, self.seed, choices)
                else:
                    sound = source.render(event, sample_rate, self.seed)
                break
            except NoMatch as exc:
                reasons.append(str(exc))
        if sound is None:
            raise BackendError(f"no sound source had a sound for event {event.id} ({event.kind}): "
                               + "; ".join(reasons))
        if sound.fallback:  # the source itself settled for less than the event asked
            reasons.append(sound.fallback)
        if reasons:
            sound.fallback = "; ".join(reasons)
            log.info("event %s (%s at %.3f s): %s; used %s", event.id, event.kind, event.time_s,
                     sound.fallback, sound.backend)
        return sound

    def shape(self, event: Event, sound: Sound, sample_rate: int) -> Sound:
        """``sound`` set to the event's level, then given its room and distance (unless the job turned that
        off). Depends on the event alone: events may be shaped on several threads at once."""
        from models import levels

        category = (event.ucs or {}).get("category")
        target = levels.target_lufs(event.kind, category, event.intensity, self.seed, event.id, event.time_s)
        sound.audio, sound.loudness_lufs = levels.set_level(sound.audio, sample_rate, target)
        if self.room:
            from models import space

            sound.audio, done = space.apply(sound.audio, sample_rate, event, self.seed)
            if done:
                sound.description += f"; {done}"
                sound.audio = levels.under_ceiling(sound.audio)
        return sound


def _new_choices(source: Any) -> Any:
    return source.new_choices() if hasattr(source, "new_choices") else None
