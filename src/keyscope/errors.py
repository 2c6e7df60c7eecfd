"""Exceptions raised by keyscope, and the exit code each maps to.

Hierarchy::

    KeyscopeError                 base; never escapes the CLI as a traceback
    ├── UsageError                bad command-line use                      exit 2
    ├── SourceError               an input file or its content is wrong     exit 3
    │   ├── SpecError             the API description
    │   ├── KeysFileError         the key inventory
    │   ├── LogParseError         a usage source (too many bad lines, unreadable file)
    │   └── ConfigError           keyscope.toml, suppressions, baseline
    ├── FetchError                network or platform API failure           exit 5
    ├── ReportError               an output could not be written            exit 3
    └── LockedError               another run holds the output lock         exit 6

Every message is one line that names the file and the place (``file:line:col`` or a
JSON pointer), so a scheduled job's log says exactly what to fix.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_INCOMPLETE = 4
EXIT_NETWORK = 5
EXIT_LOCKED = 6
EXIT_INTERNAL = 70
"""An unexpected bug: never 0, so a broken run never looks clean."""


class KeyscopeError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(KeyscopeError):
    exit_code = EXIT_USAGE


class SourceError(KeyscopeError):
    """An input is malformed; ``where`` is ``path`` plus an optional place."""

    exit_code = EXIT_INPUT

    def __init__(self, path: str, detail: str, place: str = "") -> None:
        self.path = path
        self.place = place
        self.detail = detail
        location = f"{path}:{place}" if place else path
        super().__init__(f"{location}: {detail}")


class SpecError(SourceError):
    pass


class KeysFileError(SourceError):
    pass


class LogParseError(SourceError):
    pass


class ConfigError(SourceError):
    pass


class FetchError(KeyscopeError):
    exit_code = EXIT_NETWORK


class ReportError(KeyscopeError):
    exit_code = EXIT_INPUT


class LockedError(KeyscopeError):
    exit_code = EXIT_LOCKED
