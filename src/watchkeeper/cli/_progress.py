"""A rich progress display for long work, shown only when stderr is a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["phases"]


@contextmanager
def phases(total: int | None, *, enabled: bool | None = None) -> Iterator[Callable[[str], None]]:
    """Yield a callback that advances a progress bar by one phase and shows its name.

    ``total`` is the number of phases expected; None when it is not known in advance (a
    comparison in chunks), which draws a pulsing bar. Quiet (a no-op callback) when stderr
    is not a terminal, e.g. when piped or in CI.
    """
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show:
        yield lambda _description: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=total)
        started = False

        def step(description: str) -> None:
            nonlocal started
            if started:
                bar.advance(task)
            started = True
            bar.update(task, description=description)

        yield step
        if total is not None:
            bar.update(task, completed=total)
