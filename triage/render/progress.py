"""A progress bar on stderr for long ingests: files, events, events per second.

Silent when stderr is not a terminal (scheduled jobs, pipes) or with ``--quiet``.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from triage.ingest.ingester import FileResult


class IngestProgress:
    """``with IngestProgress(n_files) as p: ... p.advance(file_result)``."""

    def __init__(self, total_files: int, *, enabled: bool = True, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self.events = 0
        self.started = time.monotonic()
        self._progress: Progress | None = None
        self._task = None
        self.total = total_files

    def __enter__(self) -> IngestProgress:
        if self.enabled:
            self._progress = Progress(
                TextColumn("ingest"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("files  {task.fields[events]:,} events  {task.fields[rate]:,.0f}/s"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("ingest", total=self.total, events=0, rate=0.0)
        return self

    def advance(self, fr: FileResult) -> None:
        self.events += fr.added + fr.duplicates
        if self._progress is not None:
            rate = self.events / max(time.monotonic() - self.started, 1e-6)
            self._progress.update(self._task, advance=1, events=self.events, rate=rate)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
