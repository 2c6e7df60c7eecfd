"""Keep a benchmark's input files in memory while it is timed.

This machine's kernel pages out file cache that has not been touched for about a minute
(a DAMON ``pageout`` scheme on physical memory, 128 MB/s at most), so a log read once
before timing is partly gone again by the later runs, and so is DuckDB's 69 MB library
between two processes: a run then waits on the disk for what it would read from memory
anywhere else.  Locking the files keeps "warm page cache" true for every run, the
baseline's included.

The files are mapped and locked by a small process of their own, never by the benchmark:
a child the benchmark starts would otherwise count the locked pages in its peak memory
(``subprocess`` starts children with ``vfork``, which shares the parent's pages until
``exec``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import importlib.util
import mmap
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["duckdb_library", "resident"]

_MAP_FAILED = ctypes.c_void_p(-1).value


def duckdb_library() -> Path | None:
    """The file of DuckDB's compiled module (found without importing it)."""
    spec = importlib.util.find_spec("_duckdb")
    return Path(spec.origin) if spec is not None and spec.origin else None


@contextlib.contextmanager
def resident(paths: Sequence[Path]) -> Iterator[str]:
    """Keep ``paths`` locked in memory for the block; yields what was done, for the report.

    Where locking is not possible (not Linux, no permission, not enough lockable memory)
    the files are read once instead and the text says so; nothing fails.
    """
    holder = subprocess.Popen(
        [sys.executable, __file__, *map(str, paths)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        yield holder.stdout.readline().strip() or "inputs not locked (the holder failed)"
    finally:
        holder.stdin.close()  # the holder's cue to unmap and exit
        holder.wait()


def _hold(paths: Sequence[Path]) -> None:
    """Map and lock ``paths``, say so on one line, then wait until stdin closes."""
    failure = _lock_all(paths)
    if failure:
        _read_all(paths)
        print(f"inputs read once before timing (could not lock them: {failure})", flush=True)
    else:
        total = sum(path.stat().st_size for path in paths)
        print(f"inputs locked in memory for every run ({total / 1e6:,.0f} MB)", flush=True)
    sys.stdin.read()


def _lock_all(paths: Sequence[Path]) -> str:
    """Map and lock each file for the life of this process; '' or why it could not."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None or not hasattr(mmap, "MAP_SHARED"):
        return "no C library to lock with"
    libc = ctypes.CDLL(libc_name, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long
    ]  # fmt: skip
    libc.mlock.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    for path in paths:
        size = path.stat().st_size
        if size == 0:
            continue
        descriptor = os.open(path, os.O_RDONLY)
        try:
            address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, descriptor, 0)
        finally:
            os.close(descriptor)  # the mapping keeps the file
        if address in (None, _MAP_FAILED):
            return f"mmap {path.name}: {os.strerror(ctypes.get_errno())}"
        if libc.mlock(ctypes.c_void_p(address), size) != 0:
            return f"mlock {path.name}: {os.strerror(ctypes.get_errno())}"
    return ""  # unmapped (and unlocked) when this process exits


def _read_all(paths: Sequence[Path]) -> None:
    for path in paths:
        with path.open("rb") as stream:
            while stream.read(16 << 20):
                pass


if __name__ == "__main__":
    _hold([Path(argument) for argument in sys.argv[1:]])
