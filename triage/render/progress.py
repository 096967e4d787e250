"""A progress bar on stderr for long ingests: bytes and files done, events, events per second.

Silent when stderr is not a terminal (scheduled jobs, pipes) or with ``--quiet``. Per-file lines
go through :meth:`IngestProgress.print`, above the bar, so the bar is redrawn below them instead
of being left behind as stale lines; the bar clears itself at the end (``transient``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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
        self._done_bytes = 0
        self._file_frac = 0.0  # how far into the current file the running statement is
        self._stage = 0  # statements seen for the current file
        self._last_pct = 0.0
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

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

    def watch(self, probe: Callable[[], float]) -> None:
        """Move the bar within a file: ``probe()`` is DuckDB's progress (0..100, -1 when idle)
        of the statement reading the file, asked from a thread every 0.25 s. Why: one large file
        otherwise shows 0 bytes until it is done."""
        if self._progress is None or self._watcher is not None:
            return

        def loop() -> None:
            while not self._stop.wait(0.25):
                try:
                    pct = float(probe())
                except Exception:  # noqa: BLE001 (a display nicety must never break an ingest)
                    return
                if pct < 0 or self.done_files >= len(self.sizes):
                    continue
                # A file takes several statements (read, normalize, write), each reporting its
                # own 0..100: each new statement covers half of what is left of the file, so the
                # bar keeps moving and reaches the file's end only when the file is done.
                if pct < self._last_pct - 5:
                    self._stage += 1
                self._last_pct = pct
                left = 0.5**self._stage
                frac = 1.0 - left + left * 0.5 * min(pct, 100.0) / 100.0
                self._file_frac = max(self._file_frac, frac)
                size = self.sizes[self.done_files]
                self._progress.update(
                    self._task, completed=self._done_bytes + self._file_frac * size
                )

        self._watcher = threading.Thread(target=loop, name="ingest-progress", daemon=True)
        self._watcher.start()

    def advance(self, fr: FileResult) -> None:
        size = self.sizes[self.done_files] if self.done_files < len(self.sizes) else 0
        self._done_bytes += size
        self._file_frac, self._stage, self._last_pct = 0.0, 0, 0.0
        self.done_files += 1
        self.events += fr.added + fr.duplicates
        if self._progress is not None:
            rate = self.events / max(time.monotonic() - self.started, 1e-6)
            self._progress.update(
                self._task,
                completed=self._done_bytes,
                events=self.events,
                rate=rate,
                files=self._files_text(),
                current=self._current(),
            )

    def print(self, text: str) -> None:
        """A line above the bar (or on stderr when there is no bar)."""
        self.console.print(text, markup=False, soft_wrap=True, highlight=False)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=1.0)
        if self._progress is not None:
            self._progress.__exit__(*exc)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size if str(path) != "-" else 0
    except OSError:
        return 0
