"""A progress bar on stderr for long ingests: bytes and files done, events, events per second.

Silent when stderr is not a terminal (scheduled jobs, pipes) or with ``--quiet``. Per-file lines
go through :meth:`IngestProgress.print`, above the bar, so the bar is redrawn below them instead
of being left behind as stale lines; the bar clears itself at the end (``transient``).
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from triage.ingest.ingester import FileResult


class IngestProgress:
    """``with IngestProgress(files) as p: ... p.advance(file_result)``.

    The bar counts bytes (a folder of one large file and many small ones moves evenly); the
    text names the file being read and the counts so far.
    """

    def __init__(
        self,
        files: list[Path] | int,
        *,
        enabled: bool = True,
        console: Console | None = None,
    ):
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self.enabled = enabled and self.console.is_terminal
        self.files = list(files) if not isinstance(files, int) else []
        self.total = len(self.files) if not isinstance(files, int) else files
        self.sizes = [_size(p) for p in self.files]
        self.done_files = 0
        self.events = 0
        self.started = time.monotonic()
        self._progress: Progress | None = None
        self._task = None

    def __enter__(self) -> IngestProgress:
        if self.enabled:
            self._progress = Progress(
                TextColumn("ingest"),
                BarColumn(),
                DownloadColumn(),
                TextColumn(
                    "{task.fields[files]}  {task.fields[events]:,} events  "
                    "{task.fields[rate]:,.0f}/s  {task.fields[current]}"
                ),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(
                "ingest",
                total=sum(self.sizes) or None,
                events=0,
                rate=0.0,
                files=self._files_text(),
                current=self._current(),
            )
        return self

    def _files_text(self) -> str:
        return f"{self.done_files:,}/{self.total:,} files"

    def _current(self) -> str:
        if self.done_files < len(self.files):
            name = self.files[self.done_files].name
            return name if len(name) <= 30 else "…" + name[-29:]
        return ""

    def advance(self, fr: FileResult) -> None:
        size = self.sizes[self.done_files] if self.done_files < len(self.sizes) else 0
        self.done_files += 1
        self.events += fr.added + fr.duplicates
        if self._progress is not None:
            rate = self.events / max(time.monotonic() - self.started, 1e-6)
            self._progress.update(
                self._task,
                advance=size,
                events=self.events,
                rate=rate,
                files=self._files_text(),
                current=self._current(),
            )

    def print(self, text: str) -> None:
        """A line above the bar (or on stderr when there is no bar)."""
        self.console.print(text, markup=False, soft_wrap=True, highlight=False)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size if str(path) != "-" else 0
    except OSError:
        return 0
