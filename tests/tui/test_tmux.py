"""``keyscope browse`` in a real terminal (tmux), on the bundled sample data.

Pilot drives the app in-process; this drives the installed command the way a
reviewer does: a pseudo-terminal, real key presses, and the screen read back as text.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Terminal:
    """One detached tmux session running a command, on a private tmux server.

    A server of its own (``-L``, no config file) keeps other tmux users on the machine
    and their options (window sizes above all) out of the test, and the test out of theirs.
    """

    def __init__(self, command: str, width: int = 120, height: int = 40) -> None:
        self.name = f"keyscope-test-{uuid.uuid4().hex[:8]}"
        self.tmux = ["tmux", "-L", self.name, "-f", "/dev/null"]
        subprocess.run(
            [*self.tmux, "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
             "-c", str(REPO), command],
            check=True,
        )  # fmt: skip

    def screen(self) -> str:
        result = subprocess.run(
            [*self.tmux, "capture-pane", "-t", self.name, "-p"], capture_output=True, text=True
        )
        return result.stdout

    def press(self, *keys: str) -> None:
        for key in keys:
            subprocess.run([*self.tmux, "send-keys", "-t", self.name, key], check=True)
            time.sleep(0.15)

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    # COLUMNS/LINES would pin the size Textual sees; the pty has the real one.
    command = (
        f"unset COLUMNS LINES; {shlex.quote(sys.executable)} -m keyscope browse;"
        " echo KEYSCOPE-EXIT=$?; sleep 60"
    )
    session = Terminal(command)
    try:
        yield session
    finally:
        session.close()


@pytest.mark.slow
def test_browse_in_a_real_terminal(terminal: Terminal) -> None:
    screen = terminal.wait_for("21/21 keys")
    assert "21 keys" in screen and "legacy full-access" in screen
    # The sample's markup-laden name is shown as typed, not styled or linked.
    assert "[bold]ops[/bold]" in screen
    terminal.press("l")
    screen = terminal.wait_for("4/21 keys")
    assert screen.count("⚠ FULL ACCESS") == 4
    terminal.press("Enter")
    screen = terminal.wait_for("Adopt suggestion")
    assert "What-if" in screen and "[x] read" in screen
    terminal.press("s")
    screen = terminal.wait_for("[ ] write")
    assert "scoped requests still succeed" in screen
    terminal.press("Escape")
    terminal.wait_for("4/21 keys")
    terminal.press("q")
    terminal.wait_for("KEYSCOPE-EXIT=0")
