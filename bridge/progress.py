"""Terminal progress for long work (rich), quiet when output is not a terminal or --json is given."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

STAGE_LABELS = {"probe": "Probing", "analyze": "Finding events", "sound": "Making sounds",
                "write": "Writing clips"}


@contextmanager
def progress_bar(enabled: bool = True, delay_s: float = 1.0) -> Iterator[Callable[[str, float], None]]:
    """Yield a ``progress(stage, fraction)`` callback that draws a bar once work lasts over ``delay_s``."""
    if not enabled or not sys.stderr.isatty():
        yield lambda stage, fraction: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    started = time.monotonic()
    bar = Progress(TextColumn("{task.description:<16}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                   TimeElapsedColumn(), console=Console(stderr=True), transient=True)
    task = bar.add_task("Starting", total=1.0)
    shown = False

    def update(stage: str, fraction: float) -> None:
        nonlocal shown
        if not shown and time.monotonic() - started >= delay_s:
            bar.start()
            shown = True
        bar.update(task, completed=fraction, description=STAGE_LABELS.get(stage, stage))

    try:
        yield update
    finally:
        if shown:
            bar.stop()
