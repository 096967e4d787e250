"""Opening input files: once, into something re-readable, with bounds.

Why a module of its own: the ingester reads a file several times (hash, shape, DuckDB's reader,
the record-by-record fallback), so anything that can be read only once (standard input, a pipe,
process substitution, a FIFO) is first spooled to a private temporary file; compressed files are
inflated under a bound (a 2 MB gzip can hold 2 GiB of zeros); odd directory entries are reported,
not silently dropped. Every reader of decompressed bytes goes through :func:`open_bounded`.
"""

from __future__ import annotations

import atexit
import errno
import glob
import hashlib
import io
import os
import re
import select
import shutil
import signal
import stat
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import zstandard

STDIN = "-"
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 1 << 20

# Inflate bounds. Real exports compress 5-50x; a polling loop's identical events far more, so
# the ratio only applies past a floor, where a file is large enough to hurt.
DEFAULT_MAX_INFLATE_RATIO = 200.0
DEFAULT_MAX_INFLATED_BYTES = 16 << 30
RATIO_FLOOR_BYTES = 64 << 20
DEFAULT_FIFO_TIMEOUT = 30.0


class InputRefused(Exception):
    """A file that is not read, with the reason (one line, naming the way out)."""


class InflateLimitExceeded(InputRefused):
    """A compressed file inflates past its bound: a decompression bomb, or a bound to raise."""


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*", re.IGNORECASE)


def parse_size(text: str | int | float) -> int:
    """``4GiB``, ``500MB``, ``1e9`` or a plain number of bytes (powers of 1024 either way)."""
    if isinstance(text, int | float):
        return int(text)
    m = _SIZE.fullmatch(text)
    if not m:
        try:
            return int(float(text))
        except ValueError:
            msg = f"{text!r} is not a size (say 4GiB, 500MB or a number of bytes)"
            raise ValueError(msg) from None
    unit = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m[2].lower()]
    return int(float(m[1]) * unit)


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


@dataclass(frozen=True)
class Bounds:
    """How far a compressed file may inflate: ``ratio`` times its size (past a floor), and
    ``max_bytes`` in all. 0 switches a bound off."""

    ratio: float = DEFAULT_MAX_INFLATE_RATIO
    max_bytes: int = DEFAULT_MAX_INFLATED_BYTES
    floor: int = RATIO_FLOOR_BYTES

    @classmethod
    def from_env(cls, ratio: float | None = None, max_bytes: int | str | None = None) -> Bounds:
        """Arguments win, then ``$TRIAGE_MAX_INFLATE_RATIO`` / ``$TRIAGE_MAX_INFLATED_BYTES``."""
        if ratio is None:
            ratio = _env_number("TRIAGE_MAX_INFLATE_RATIO", DEFAULT_MAX_INFLATE_RATIO)
        if max_bytes is None:
            max_bytes = os.environ.get("TRIAGE_MAX_INFLATED_BYTES") or DEFAULT_MAX_INFLATED_BYTES
        return cls(ratio=float(ratio), max_bytes=parse_size(max_bytes))

    def limit(self, compressed_size: int) -> int | None:
        """The most decompressed bytes a file of this compressed size may give (None: no bound)."""
        limits = []
        if self.max_bytes > 0:
            limits.append(self.max_bytes)
        if self.ratio > 0:
            limits.append(max(self.floor, int(self.ratio * compressed_size)))
        return min(limits) if limits else None

    def refusal(self, label: str, compressed_size: int, limit: int) -> str:
        by_ratio = self.ratio > 0 and limit == max(self.floor, int(self.ratio * compressed_size))
        why = (
            f"more than {self.ratio:g}x its {human(compressed_size)} compressed size"
            if by_ratio
            else f"more than the {human(limit)} bound"
        )
        return (
            f"inflates to more than {human(limit)} ({why}): a decompression bomb? Not read. "
            "Raise the bound with --max-inflate-ratio N / --max-inflated SIZE "
            "(or TRIAGE_MAX_INFLATE_RATIO, TRIAGE_MAX_INFLATED_BYTES; 0 for none)"
        )


def compression_of(path: Path) -> str | None:
    """gzip or zstd by magic number (names lie: a `.json` may well be gzipped)."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic.startswith(GZIP_MAGIC):
        return "gzip"
    if magic.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


class _Bounded(io.RawIOBase):
    """A decompressed stream that raises :class:`InflateLimitExceeded` past ``limit`` bytes."""

    def __init__(self, inner: IO[bytes], limit: int | None, message: str):
        self._inner = inner
        self._limit = limit
        self._message = message
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        n = self._inner.readinto(b)  # type: ignore[attr-defined]
        self.count += n or 0
        if self._limit is not None and self.count > self._limit:
            raise InflateLimitExceeded(self._message)
        return n or 0

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


def open_bounded(
    path: Path,
    compression: str | None = None,
    bounds: Bounds | None = None,
    *,
    label: str | None = None,
) -> IO[bytes]:
    """A buffered binary stream of ``path``'s decompressed content, gzip (multi-member) or zstd
    (across frames), that raises :class:`InflateLimitExceeded` past the file's bound."""
    compression = compression if compression is not None else compression_of(path)
    if compression is None:
        return open(path, "rb")
    bounds = bounds or Bounds.from_env()
    size = path.stat().st_size
    limit = bounds.limit(size)
    message = bounds.refusal(label or str(path), size, limit or 0)
    if compression == "gzip":
        import gzip

        inner: IO[bytes] = gzip.open(path, "rb")
    else:
        inner = zstandard.ZstdDecompressor().stream_reader(
            open(path, "rb"), read_across_frames=True, closefd=True
        )
    return io.BufferedReader(_Bounded(inner, limit, message), CHUNK)


@dataclass
class Scan:
    """What one read of a file tells: content hash, size, blank lines, decompressed size."""

    digest: str
    size: int
    blank_lines: bool
    inflated: int | None  # decompressed bytes; None when not compressed or the stream broke


# One regex pass, not two `in` searches: about 3x faster on long lines (newlines are rare).
_BLANK_LINE = re.compile(rb"\n\r?\n")


def scan(path: Path, bounds: Bounds | None = None, *, label: str | None = None) -> Scan:
    """Hash the file's bytes, look for blank lines, and for a compressed file inflate it under
    its bound (raising :class:`InflateLimitExceeded` early, before any reader sees it)."""
    h = hashlib.sha256()
    blank = False
    prev = b"\n"
    size = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
            size += len(chunk)
            if not blank and (
                (prev[-1:] == b"\n" and chunk[:1] in (b"\n", b"\r")) or _BLANK_LINE.search(chunk)
            ):
                blank = True
            prev = chunk
    inflated = None
    compression = compression_of(path) if size else None
    if compression is not None:
        inflated = 0
        try:
            with open_bounded(path, compression, bounds, label=label) as z:
                for chunk in iter(lambda: z.read(CHUNK), b""):
                    inflated += len(chunk)
        except InflateLimitExceeded:
            raise
        except (OSError, EOFError, zlib.error, zstandard.ZstdError):
            inflated = None  # truncated or corrupt: the readers reject what is broken
    return Scan(h.hexdigest(), size, blank, inflated)


# -- the private temporary folder ----------------------------------------------------------------

_RUN_DIR: Path | None = None
_PREFIX = "triage-"


def run_dir() -> Path:
    """This process's temporary folder (event text is written there only), removed at exit; on
    first use, folders of earlier processes that died without cleaning up (kill -9) go too."""
    global _RUN_DIR
    if _RUN_DIR is None or not _RUN_DIR.is_dir():
        sweep_stale()
        _RUN_DIR = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
        atexit.register(remove_run_dir)
    return _RUN_DIR


def temp_path(suffix: str) -> Path:
    """A new file name inside :func:`run_dir`."""
    fd, name = tempfile.mkstemp(suffix=suffix, dir=run_dir())
    os.close(fd)
    return Path(name)


def remove_run_dir() -> None:
    global _RUN_DIR
    if _RUN_DIR is not None:
        shutil.rmtree(_RUN_DIR, ignore_errors=True)
        _RUN_DIR = None


def sweep_stale() -> None:
    """Remove the temp folders of triage processes that are gone (their pid is in the name)."""
    for d in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*-*"):
        m = re.fullmatch(rf"{_PREFIX}(\d+)-\w+", d.name)
        if not m or not d.is_dir() or int(m[1]) == os.getpid():
            continue
        try:
            os.kill(int(m[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except PermissionError:
            pass  # another user's live process


def exit_cleanly_on_sigterm() -> None:
    """SIGTERM (and SIGHUP) raise SystemExit, so ``finally`` blocks and atexit remove temp files
    (and the open transaction rolls back) instead of the process vanishing."""

    def handler(signum, frame):  # noqa: ARG001
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread
            pass


# -- reading what can be read only once ----------------------------------------------------------


def fifo_timeout() -> float:
    return _env_number("TRIAGE_FIFO_TIMEOUT", DEFAULT_FIFO_TIMEOUT)


def is_stream(path: Path) -> bool:
    """Standard input, a pipe, process substitution (``/dev/fd/63``), a FIFO, a character device:
    anything that is not a regular file and can be read only once."""
    if str(path) == STDIN:
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def spool(path: Path, limit: int | None = None) -> Path:
    """Copy a stream to a temp file. A named FIFO is waited on at most ``$TRIAGE_FIFO_TIMEOUT`` s
    (default 30) for data, then refused with a message: with no writer it would block forever.
    Standard input, pipes and process substitution have their writer already: read to the end."""
    timeout = fifo_timeout()
    out = temp_path(".spool")
    own = str(path) != STDIN
    try:
        if own:
            try:
                src_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            except OSError as exc:
                raise InputRefused(f"cannot read: {exc.strerror or exc}") from exc
        else:
            try:
                src_fd = sys.stdin.buffer.fileno()
            except (AttributeError, OSError, ValueError):
                # A replaced sys.stdin (a test, an embedding app): a plain copy.
                with open(out, "wb") as dst:
                    shutil.copyfileobj(sys.stdin.buffer, dst, CHUNK)
                return out
        try:
            if limit is None:
                limit = Bounds.from_env().max_bytes
            fifo = own and _named_fifo(path, src_fd)
            _copy(src_fd, out, timeout if fifo else None, limit or None)
        finally:
            if own:
                os.close(src_fd)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out


def _named_fifo(path: Path, fd: int) -> bool:
    """A FIFO on disk (mkfifo), not a pipe handed over as /dev/fd/N or /proc/self/fd/N."""
    return stat.S_ISFIFO(os.fstat(fd).st_mode) and not str(path).startswith(("/dev/fd/", "/proc/"))


def _copy(fd: int, out: Path, timeout: float | None, limit: int | None = None) -> None:
    """Copy ``fd`` to ``out``; past ``limit`` bytes (``/dev/zero``...) the stream is refused."""
    poller = None
    if timeout is not None:
        os.set_blocking(fd, False)
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    else:
        os.set_blocking(fd, True)
    got_any = False
    with open(out, "wb") as dst:
        while True:
            if poller is not None and not poller.poll(timeout * 1000):
                what = "no data" if not got_any else "no more data"
                raise InputRefused(
                    f"{what} within {timeout:g} s (a FIFO with no writer?): not read. "
                    "Set TRIAGE_FIFO_TIMEOUT=SECONDS to wait longer"
                )
            try:
                chunk = os.read(fd, CHUNK)
            except BlockingIOError:
                continue
            if not chunk:
                return
            got_any = True
            dst.write(chunk)
            if limit is not None and dst.tell() > limit:
                raise InputRefused(
                    f"a stream of more than {human(limit)}: not read. Raise the bound with "
                    "--max-inflated SIZE or TRIAGE_MAX_INFLATED_BYTES (0 for none)"
                )


# -- walking the paths named -------------------------------------------------------------------


@dataclass(frozen=True)
class Skipped:
    """A directory entry that is not read, and why (counted in the per-file lines)."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return str(self.path)


def _entry(child: Path) -> Path | Skipped | None:
    """A folder entry as a file to read, a Skipped with its reason, or None (a folder)."""
    try:
        st = os.stat(child)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Skipped(child, "symlink loop: not read")
        if child.is_symlink():
            return Skipped(child, f"dangling symlink (to {os.readlink(child)}): not read")
        return Skipped(child, f"cannot read: {exc.strerror or exc}")
    if stat.S_ISREG(st.st_mode):
        return child
    if stat.S_ISDIR(st.st_mode):
        return None
    if stat.S_ISFIFO(st.st_mode):
        return Skipped(child, "a FIFO (named pipe) in a folder is not read: name it to read it")
    kind = "socket" if stat.S_ISSOCK(st.st_mode) else "device"
    return Skipped(child, f"a {kind}, not a regular file: not read")


def iter_inputs(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path | Skipped]:
    """Files named (a pipe or FIFO named is read), files under folders named (recursively,
    sorted, hidden entries skipped, symlinked folders not followed), and glob matches. ``-`` is
    standard input. Entries of a folder that cannot be read as files come as :class:`Skipped`."""
    for p in paths:
        if str(p) == STDIN:
            yield Path(STDIN)
            continue
        path = Path(p)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                entry = _entry(child)
                if entry is not None:
                    yield entry
        elif path.exists() or path.is_symlink():
            yield path
        elif glob.has_magic(str(p)):
            matches = sorted(glob.glob(str(p), recursive=True))
            if not matches:
                raise FileNotFoundError(f"{p}: no file matches this pattern")
            yield from iter_inputs(matches)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
