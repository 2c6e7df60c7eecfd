"""A tiny headless-Chromium driver over the DevTools protocol, standard library only.

Chromium is started with ``--remote-debugging-pipe``: it reads commands on file
descriptor 3 and writes answers and events on 4, each a JSON message ended by a NUL
byte.  No websocket client, no chromedriver, no network port.  Used by the browser
test (console errors, CSP violations, the DOM) and by ``bench/bench_html.py`` (load
time).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)


def find_chromium() -> str | None:
    """The Chromium executable, or None when none is installed."""
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


class Chromium:
    """One headless browser with one page; use as a context manager."""

    def __init__(
        self, executable: str | None = None, *, width: int = 1280, height: int = 900
    ) -> None:
        path = executable or find_chromium()
        if path is None:
            raise RuntimeError("Chromium is not installed")
        self._profile = tempfile.mkdtemp(prefix="keyscope-chromium-")
        to_child_read, to_child_write = os.pipe()
        from_child_read, from_child_write = os.pipe()
        # Park the child's ends on high descriptors so dup2 onto 3 and 4 cannot clobber them.
        os.dup2(to_child_read, 200)
        os.dup2(from_child_write, 201)
        os.close(to_child_read)
        os.close(from_child_write)

        def wire_pipes() -> None:  # runs in the child before exec
            os.dup2(200, 3)
            os.dup2(201, 4)

        self.process = subprocess.Popen(
            [path, *_FLAGS, f"--user-data-dir={self._profile}", f"--window-size={width},{height}",
             "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4, 200, 201),
            preexec_fn=wire_pipes,
        )  # fmt: skip
        os.close(200)
        os.close(201)
        self._out = os.fdopen(to_child_write, "wb", buffering=0)
        self._in = os.fdopen(from_child_read, "rb", buffering=0)
        self._next_id = 0
        self._answers: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self._event_signal = threading.Condition()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        self.session = ""
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call(
            "Target.attachToTarget", {"targetId": target, "flatten": True}, session=False
        )["sessionId"]
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.call(domain)
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.call("Emulation.setDeviceMetricsOverride", metrics)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ protocol

    def _read_loop(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self._in.read(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        box = self._answers.get(message["id"])
                    if box is not None:
                        box.put(message)
                else:
                    with self._event_signal:
                        self.events.append(message)
                        self._event_signal.notify_all()

    def call(self, method: str, params: dict[str, Any] | None = None, *, session: bool = True,
             timeout: float = 60.0) -> dict[str, Any]:  # fmt: skip
        """Send one command and wait for its answer; raises on a protocol error."""
        with self._lock:
            self._next_id += 1
            number = self._next_id
            box: queue.Queue[dict[str, Any]] = queue.Queue()
            self._answers[number] = box
        message: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        self._out.write(json.dumps(message).encode() + b"\0")
        answer = box.get(timeout=timeout)
        with self._lock:
            del self._answers[number]
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def wait_for_event(
        self, method: str, *, after: int = 0, timeout: float = 60.0
    ) -> dict[str, Any]:
        """The first event named ``method`` at or after position ``after`` of ``events``."""
        deadline = time.monotonic() + timeout
        with self._event_signal:
            while True:
                for event in self.events[after:]:
                    if event.get("method") == method:
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {method} within {timeout} s")
                self._event_signal.wait(remaining)

    # ------------------------------------------------------------------ page

    def open(self, url: str, *, timeout: float = 60.0) -> float:
        """Navigate and wait for the load event; returns the seconds it took."""
        mark = len(self.events)
        started = time.perf_counter()
        self.call("Page.navigate", {"url": url})
        self.wait_for_event("Page.loadEventFired", after=mark, timeout=timeout)
        return time.perf_counter() - started

    def evaluate(self, expression: str) -> Any:
        """Evaluate JavaScript in the page and return its JSON value."""
        answer = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in answer:
            raise RuntimeError(f"page script failed: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def screenshot(self, path: Path, *, full_page: bool = False) -> None:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"],
                              "height": min(size["height"], 6000), "scale": 1}  # fmt: skip
        data = self.call("Page.captureScreenshot", params)["data"]
        path.write_bytes(base64.b64decode(data))

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and CSP violations so far."""
        found = []
        with self._event_signal:
            events = list(self.events)
        for event in events:
            method = event.get("method")
            params = event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                description = details.get("exception", {}).get("description", "")
                found.append(f"exception: {details.get('text')} {description}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in (
                "error",
                "warning",
                "assert",
            ):
                texts = [
                    str(arg.get("value", arg.get("description", "")))
                    for arg in params.get("args", [])
                ]
                found.append(f"console.{params.get('type')}: {' '.join(texts)}")
            elif method == "Log.entryAdded":
                entry = params.get("entry", {})
                if entry.get("level") in ("error", "warning"):
                    found.append(
                        f"log {entry.get('source')}/{entry.get('level')}: {entry.get('text')}"
                    )
        return found

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the browser may already be gone
            self.call("Browser.close", session=False, timeout=10)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        for stream in (self._out, self._in):
            with contextlib.suppress(OSError):
                stream.close()
        shutil.rmtree(self._profile, ignore_errors=True)
