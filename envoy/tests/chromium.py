"""Headless Chromium driven over the DevTools protocol, standard library only.

Debian's `chromium` (installed by `make apt-deps`) is started with `--remote-debugging-pipe`:
it reads protocol commands from its file descriptor 3 and writes replies and events to 4, each
message a JSON object ended by a NUL byte. No port is opened and no websocket is needed.

`open_page(path)` loads a local file in a fresh tab and returns a `Page` that has collected
what a person would see in the developer console (console calls, uncaught exceptions, log
entries such as a failed resource) and every URL the page asked for; `page.evaluate(js)` runs
an expression and `page.screenshot(path)` writes a PNG of the whole page.

    python envoy/tests/chromium.py report.html --screenshot out.png   # prints the findings

Every wait is bounded and the browser is stopped on exit.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COMMAND_TIMEOUT_S = 30.0
LOAD_TIMEOUT_S = 30.0
SETTLE_S = 0.5  # after the load event, for late console messages
MAX_SCREENSHOT_HEIGHT = 6000
FLAGS = [
    "--headless",
    "--no-sandbox",  # the tests run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--remote-debugging-pipe",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
    "--force-device-scale-factor=1",
    # Offline: no name resolves, so a report that needs the network shows it.
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


def binary() -> str | None:
    """`$CHROMIUM`, else Debian's `chromium` on the PATH."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit
    return shutil.which("chromium") or shutil.which("chromium-browser")


class ProtocolError(RuntimeError):
    pass


@dataclass
class Finding:
    """One message the console would show."""

    source: str  # console, exception, log
    level: str
    text: str

    def __str__(self) -> str:
        return f"[{self.source}:{self.level}] {self.text}"


@dataclass
class Page:
    browser: "Chromium"
    session: str
    console: list[Finding] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, session=self.session)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.console if f.level in ("error", "assert") or f.source == "exception"]

    def evaluate(self, expression: str) -> Any:
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in reply:
            raise ProtocolError(f"`{expression}` threw: {reply['exceptionDetails'].get('text')}")
        return reply.get("result", {}).get("value")

    def screenshot(self, path: Path, width: int = 1280) -> Path:
        """A PNG of the whole page (at most MAX_SCREENSHOT_HEIGHT pixels high)."""
        metrics = self.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics.get("contentSize") or {}
        height = max(1, min(int(size.get("height", 800)), MAX_SCREENSHOT_HEIGHT))
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        reply = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                      "fromSurface": True})
        path.write_bytes(base64.b64decode(reply["data"]))
        return path


class Chromium:
    """One headless browser; use as a context manager."""

    def __init__(self, executable: str | None = None, *, width: int = 1280, height: int = 900) -> None:
        found = executable or binary()
        if not found:
            raise FileNotFoundError("no `chromium` on the PATH: run `make apt-deps` or set CHROMIUM")
        self.executable = found
        self.size = (width, height)
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._process: subprocess.Popen[bytes] | None = None
        self._profile: tempfile.TemporaryDirectory[str] | None = None

    # --- process ---------------------------------------------------------------------------
    def __enter__(self) -> "Chromium":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="wa-guard-chromium-")
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # Above 9, so that putting them on 3 and 4 in the child cannot overwrite one with the other.
        child_in = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def on_fds_3_and_4() -> None:  # runs in the child, before exec
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        width, height = self.size
        args = [self.executable, *FLAGS, f"--user-data-dir={self._profile.name}",
                f"--window-size={width},{height}", "about:blank"]
        try:
            # close_fds=False keeps the inheritable 3 and 4 made above; every other descriptor
            # of this process is non-inheritable (PEP 446) and is closed at exec.
            self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL, close_fds=False,
                                             preexec_fn=on_fds_3_and_4)
        finally:
            os.close(child_in)
            os.close(child_out)
        self._write = os.fdopen(to_browser_w, "wb", buffering=0)
        self._read = os.fdopen(from_browser_r, "rb", buffering=0)
        threading.Thread(target=self._reader, name="chromium-devtools", daemon=True).start()
        self.send("Browser.getVersion")

    def stop(self) -> None:
        if self._process is None:
            return
        try:
            if self._process.poll() is None and not self._closed:
                self.send("Browser.close", timeout=5)
        except (ProtocolError, OSError, TimeoutError):
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        for stream in (self._write, self._read):
            try:
                stream.close()
            except OSError:
                pass
        if self._profile is not None:
            self._profile.cleanup()
        self._process = None

    # --- protocol --------------------------------------------------------------------------
    def _reader(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self._read.read(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self._cond:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self._events.append(message)
                self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None,
             timeout: float = COMMAND_TIMEOUT_S) -> dict[str, Any]:
        with self._cond:
            self._next_id += 1
            ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._write.write(json.dumps(message).encode("utf-8") + b"\0")
        deadline = time.monotonic() + timeout
        with self._cond:
            while ident not in self._replies:
                left = deadline - time.monotonic()
                if self._closed:
                    raise ProtocolError(f"the browser went away during `{method}`")
                if left <= 0:
                    raise TimeoutError(f"no reply to `{method}` within {timeout}s")
                self._cond.wait(left)
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise ProtocolError(f"`{method}`: {reply['error'].get('message')}")
        return reply.get("result", {})

    def _wait_event(self, method: str, session: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self._events:
                    if event.get("method") == method and event.get("sessionId") == session:
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no `{method}` within {timeout}s")
                self._cond.wait(left)

    def _collect(self, page: Page) -> None:
        """Moves the page's console events into `page.console` and its requests into `page.requested`."""
        with self._cond:
            mine = [e for e in self._events if e.get("sessionId") == page.session]
            self._events = [e for e in self._events if e.get("sessionId") != page.session]
        for event in mine:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                page.console.append(Finding("console", params.get("type", ""), text))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                description = details.get("exception", {}).get("description") or details.get("text", "")
                page.console.append(Finding("exception", "error", description))
            elif method == "Log.entryAdded":
                entry = params.get("entry", {})
                page.console.append(Finding("log", entry.get("level", ""), f"{entry.get('text', '')} {entry.get('url', '')}".strip()))
            elif method == "Network.requestWillBeSent":
                page.requested.append(params.get("request", {}).get("url", ""))

    def open_page(self, path: Path) -> Page:
        """Opens `path` in a new tab and waits for its load event, then a short settle."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(f"{domain}.enable")
        page.send("Page.navigate", {"url": Path(path).resolve().as_uri()})
        self._wait_event("Page.loadEventFired", session, LOAD_TIMEOUT_S)
        time.sleep(SETTLE_S)
        page.evaluate("1")  # a round trip: every event sent before it has been read
        self._collect(page)
        return page


def inspect(report: Path, screenshot: Path | None = None) -> dict[str, Any]:
    """What the report shows in a browser: console errors, data marks, outside requests."""
    with Chromium() as browser:
        page = browser.open_page(report)
        found = {
            "svg": page.evaluate("document.querySelectorAll('svg').length"),
            "data_marks": page.evaluate("document.querySelectorAll('svg [data-value]').length"),
            "console": [str(f) for f in page.console],
            "errors": [str(f) for f in page.errors],
            "outside_requests": [u for u in page.requested if not u.startswith(("file:", "data:", "about:"))],
        }
        if screenshot is not None:
            page.screenshot(screenshot)
        return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args(argv)
    found = inspect(args.report, args.screenshot)
    print(json.dumps(found, indent=2))
    return 1 if found["errors"] or found["outside_requests"] else 0


if __name__ == "__main__":
    sys.exit(main())
