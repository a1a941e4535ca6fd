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
from typing import Any

from bridge.errors import BackendError
from bridge.event import Event
from models.sound import NoMatch, Sound

log = logging.getLogger("foley.sound")


class SoundChain:
    """A job's sources with their per-job choice state."""

    def __init__(self, sources: list[Any], seed: int, room: bool = True) -> None:
        self.sources = sources
        self.seed = seed
        self.room = room
        self._choices = [s.new_choices() if hasattr(s, "new_choices") else None for s in sources]

    @property
    def thread_safe(self) -> bool:
        return all(getattr(s, "thread_safe", False) for s in self.sources)

    def render(self, event: Event, sample_rate: int) -> Sound:
        from models import levels
        from models.recorded import target_ucs

        if not event.ucs:
            event.ucs = target_ucs(event)
        reasons: list[str] = []
        sound: Sound | None = None
        for source, choices in zip(self.sources, self._choices):
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
