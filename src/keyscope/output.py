"""Writing outputs safely: atomic replace, no symlink following, one run at a time.

A scheduled job that dies mid-write (SIGKILL, a full disk) must leave the previous
report intact and no temporary files behind; two overlapping runs must not interleave.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from keyscope.errors import LockedError, ReportError


def write_atomic(path: Path, data: str | bytes, *, force: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync and rename.

    Args:
        path: Destination.  Its folder must exist.
        data: Text (written as UTF-8) or bytes.
        force: Allow replacing a symbolic link (the link itself is replaced, not its target).

    Raises:
        ReportError: the destination is a folder or a symlink (without ``force``), or
            the write failed; the previous file is then untouched.
    """
    if path.is_symlink() and not force:
        raise ReportError(f"{path}: refusing to write through a symbolic link (use --force)")
    if path.is_dir():
        raise ReportError(f"{path}: is a folder, not a file")
    folder = path.parent if str(path.parent) else Path()
    if not folder.is_dir():
        raise ReportError(f"{path}: folder {folder} does not exist")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
        _fsync_folder(folder)
    except OSError as error:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise ReportError(f"{path}: cannot write: {error.strerror or error}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise


def remove_stale_temporaries(path: Path) -> int:
    """Remove temporary files that an earlier, killed write of ``path`` left behind.

    A SIGKILL during :func:`write_atomic` cannot clean up after itself; the next run
    does.  Call this only while holding the output lock of ``path``'s folder, so no
    live writer of ``path`` is using them.

    Returns:
        How many files were removed.
    """
    folder = path.parent if str(path.parent) else Path()
    removed = 0
    for leftover in folder.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed += 1
    return removed


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


@contextlib.contextmanager
def output_lock(target: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking lock beside ``target`` for the run.

    The lock is ``.<name>.lock`` in the target's folder; a crashed run's lock file is
    harmless because ``flock`` locks die with their process.

    Raises:
        LockedError: another run holds the lock.
    """
    lock_path = target.parent / f".{target.name}.lock"
    try:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise ReportError(f"{lock_path}: cannot create lock: {error.strerror}") from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise LockedError(
                    f"{target}: locked by another keyscope run ({lock_path}); try again later"
                ) from None
            raise
        yield
    finally:
        os.close(descriptor)
