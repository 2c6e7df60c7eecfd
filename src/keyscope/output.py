"""Writing outputs safely: atomic replace, no symlink following, one run at a time.

A scheduled job that dies mid-write (SIGKILL, a full disk) must leave the previous
report intact and no temporary files behind; two overlapping runs must not interleave.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import fnmatch
import glob
import os
import re
import secrets
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from keyscope.errors import LockedError, ReportError

_PROC_FD = Path("/proc/self/fd")
_NO_ANONYMOUS_FILES = frozenset({errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL})
"""What ``open(folder, O_TMPFILE)`` fails with when the kernel or the filesystem lacks it
(a kernel that predates the flag sees a folder opened for writing: ``EISDIR``)."""
_MODE = 0o644
"""Reports are readable by all, whatever the umask, as with any generated file."""


def refuse_writing_over_inputs(
    outputs: Iterable[Path],
    inputs: Mapping[str, Path | None],
    patterns: Iterable[str] = (),
    folders: Mapping[str, Path | None] | None = None,
) -> None:
    """A usage error when an output is one of the command's inputs.

    ``--json keys.yaml`` or ``-o spec.yaml`` is a typo that would destroy the file just
    read, so it stops the command before anything is read or written.

    Args:
        outputs: The files the command would write.
        inputs: What each input is called (``"key inventory"``) -> its path, or None.
        patterns: Usage files or globs; an output any of them matches is a usage log.
        folders: What each input folder is called (``"snapshot folder"``) -> its path:
            nothing may be written inside one.

    Raises:
        UsageError: naming the output and what it is.
    """
    from keyscope.errors import UsageError

    known = {canonical(path): what for what, path in inputs.items() if path is not None}
    globs = [str(canonical(Path(pattern))) for pattern in patterns]
    inside = {canonical(path): what for what, path in (folders or {}).items() if path is not None}
    for output in outputs:
        resolved = canonical(output)
        what = known.get(resolved)
        if what is None and any(fnmatch.fnmatchcase(str(resolved), glob) for glob in globs):
            what = "usage log"
        if what is not None:
            raise UsageError(f"{output}: is this run's {what}; not writing a report over it")
        for folder, name in inside.items():
            if resolved == folder or folder in resolved.parents:
                raise UsageError(f"{output}: is inside this run's {name}; not writing there")


def canonical(path: Path) -> Path:
    """``path`` with its links followed, to tell whether two paths are one file; as
    written (made absolute) when that fails (a loop of links), which the read or the
    write then reports."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # Python 3.11 raises RuntimeError for a loop
        return Path(os.path.abspath(path))  # noqa: PTH100


def is_stream(path: Path) -> bool:
    """Whether ``path`` is a character device or a named pipe (``/dev/null``, a FIFO a
    reader waits on), or names one of this process's open files (``/dev/stdout``):
    written in place, never replaced by a file and never locked."""
    if descriptor_of(path) is not None:
        return True
    mode = _mode(path)
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


_DESCRIPTOR_NAME = re.compile(r"/(?:dev/fd|proc/self/fd)/(\d+)")
_STANDARD_NAMES = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}


def descriptor_of(path: Path) -> int | None:
    """The open file descriptor ``path`` names (``/dev/stdout`` is 1, ``/dev/fd/5`` is 5),
    or None.  Written to as that descriptor: opening the name again would start a
    redirected file over, and replacing it would replace ``/dev/stdout`` itself."""
    text = os.path.abspath(path)  # noqa: PTH100 - the name as given, links not followed
    if text in _STANDARD_NAMES:
        return _STANDARD_NAMES[text]
    match = _DESCRIPTOR_NAME.fullmatch(text)
    return int(match.group(1)) if match else None


def is_device(path: Path) -> bool:
    """Whether ``path`` is a character device (``/dev/null``, a terminal)."""
    return stat.S_ISCHR(_mode(path))


def _mode(path: Path) -> int:
    try:
        return path.stat().st_mode
    except OSError:
        return 0


def write_atomic(path: Path, data: str | bytes, *, force: bool = False) -> None:
    """Write ``data`` to ``path`` so that ``path`` is always wholly old or wholly new.

    On Linux the data goes into an anonymous file in ``path``'s folder (``O_TMPFILE``):
    it has no name while it is written and fsynced, so a process killed meanwhile
    (SIGKILL) leaves nothing behind.  Only when complete is it linked under a temporary
    name and renamed over ``path``; the folder is then fsynced.  A kill in the
    microseconds between link and rename can leave that temporary name, which
    :func:`remove_stale_temporaries` removes.  Where ``O_TMPFILE`` is missing (another
    system, an old kernel, a filesystem without it) a named temporary file is written,
    fsynced and renamed the same way.

    Args:
        path: Destination.  Its folder must exist.
        data: Text (written as UTF-8) or bytes.
        force: Allow replacing a symbolic link (the link itself is replaced, not its target).

    A character device or a named pipe (:func:`is_stream`) is written in place: renaming
    a file over ``/dev/null`` would replace the device for the whole machine.

    Raises:
        ReportError: the destination is a folder, a block device, a socket or a symlink
            (without ``force``), a pipe nobody reads, or the write failed; the previous
            file is then untouched and no file is left.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    descriptor = descriptor_of(path)
    if descriptor is not None:
        _write_descriptor(path, descriptor, payload)
        return
    refuse_link(path, force=force)
    if path.is_dir():
        raise ReportError(f"{path}: is a folder, not a file")
    if path.exists() and not path.is_file():
        _write_in_place(path, payload)
        return
    folder = path.parent if str(path.parent) else Path()
    if not folder.is_dir():
        raise ReportError(f"{path}: folder {folder} does not exist")
    try:
        if not _write_anonymous(folder, path, payload):
            _write_named(folder, path, payload)
    except OSError as error:
        raise ReportError(f"{path}: cannot write: {error.strerror or error}") from None
    _fsync_folder(folder)


def refuse_link(path: Path, *, force: bool) -> None:
    """Refuse an output that is a symbolic link, unless ``force`` (the link itself is then
    replaced) or it names an open descriptor (``/dev/stdout``, written as that file).

    Raises:
        ReportError: naming the link.
    """
    if path.is_symlink() and not force and descriptor_of(path) is None:
        raise ReportError(f"{path}: is a symbolic link; --force replaces the link itself")


def _write_all(descriptor: int, payload: bytes) -> None:
    """Write every byte to an open file (a pipe may take less than asked at a time)."""
    view = memoryview(payload)
    while view:
        view = view[os.write(descriptor, view) :]


def _write_descriptor(path: Path, descriptor: int, payload: bytes) -> None:
    """Write to one of this process's open files, where it stands (``>>`` appends)."""
    stream = {1: sys.stdout, 2: sys.stderr}.get(descriptor)
    try:
        if stream is not None:  # what Python buffered for it goes first, to keep order
            stream.flush()
        _write_all(descriptor, payload)
    except BrokenPipeError:
        raise  # the reader left (``| head``): as for plain stdout, not an error
    except OSError as error:
        raise ReportError(f"{path}: cannot write: {error.strerror or error}") from None


def _write_in_place(path: Path, payload: bytes) -> None:
    """Write to a character device or a named pipe; refuse any other special file."""
    if not is_stream(path):
        raise ReportError(f"{path}: is not a regular file, a character device or a pipe")
    try:
        # Non-blocking open: a pipe nobody reads is an error (ENXIO), not a hang.
        descriptor = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as error:
        if error.errno == errno.ENXIO:
            raise ReportError(f"{path}: no process is reading this pipe") from None
        raise ReportError(f"{path}: cannot write: {error.strerror or error}") from None
    try:
        os.set_blocking(descriptor, True)
        _write_all(descriptor, payload)
    except OSError as error:
        raise ReportError(f"{path}: cannot write: {error.strerror or error}") from None
    finally:
        os.close(descriptor)


def _write_anonymous(folder: Path, path: Path, payload: bytes) -> bool:
    """Write through an ``O_TMPFILE`` file; False when this system cannot (nothing written).

    Raises:
        OSError: the write, the fsync or the rename failed; nothing is left behind.
    """
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not _PROC_FD.is_dir():
        return False
    try:
        descriptor = os.open(folder, flag | os.O_WRONLY, 0o600)
    except OSError as error:
        if error.errno in _NO_ANONYMOUS_FILES:
            return False
        raise
    temporary: Path | None = None
    try:
        try:
            stream = os.fdopen(descriptor, "wb")
        except BaseException:
            os.close(descriptor)
            raise
        with stream:  # closing the last descriptor of an unlinked file frees it
            os.fchmod(stream.fileno(), _MODE)
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
            temporary = _name_anonymous(stream.fileno(), folder, path.name)
        if temporary is None:
            return False
        temporary.replace(path)
    except BaseException:
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.unlink()
        raise
    return True


def _name_anonymous(descriptor: int, folder: Path, name: str) -> Path | None:
    """Give the anonymous file a unique temporary name in ``folder``; None if refused.

    ``linkat(AT_SYMLINK_FOLLOW)`` on ``/proc/self/fd/N`` is how an unprivileged process
    names an ``O_TMPFILE`` file (``os.link`` uses ``linkat`` when given folder
    descriptors; plain ``link`` would try to link the ``/proc`` entry itself).
    """
    folder_descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(100):
            temporary = f".{name}.{secrets.token_hex(4)}.tmp"
            try:
                os.link(
                    f"{_PROC_FD}/{descriptor}",
                    temporary,
                    src_dir_fd=folder_descriptor,
                    dst_dir_fd=folder_descriptor,
                    follow_symlinks=True,
                )
            except FileExistsError:
                continue
            except OSError:
                return None  # /proc hidden, a security module: write a named file instead
            return folder / temporary
        return None
    finally:
        os.close(folder_descriptor)


def _write_named(folder: Path, path: Path, payload: bytes) -> None:
    """The portable way: a named temporary file, fsync, rename; removed if anything fails."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).chmod(_MODE)
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise


def remove_stale_temporaries(path: Path) -> int:
    """Remove temporary files that an earlier, killed write of ``path`` left behind.

    A process killed during :func:`write_atomic` cannot clean up after itself.  With
    ``O_TMPFILE`` that leaves nothing unless the kill lands between naming the finished
    file and renaming it (microseconds); with the named fallback it leaves the partial
    temporary file.  The next run removes either.  Call this only while holding the
    output lock of ``path``'s folder, so no live writer of ``path`` is using them.

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
    harmless because ``flock`` locks die with their process.  A character device or a
    pipe (``-o /dev/null``) takes no lock: nothing there can be left half written, and
    ``/dev`` gets no lock file.

    Raises:
        LockedError: another run holds the lock.
    """
    if is_stream(target):
        yield
        return
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
