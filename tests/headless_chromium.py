"""Drive Debian's headless Chromium over the DevTools protocol: open a page, collect every console
error, exception, CSP violation and dialog, evaluate JavaScript, take a screenshot.

The protocol (not ``--screenshot`` on the command line) because a test needs to know what the
page *did*: whether a script threw, whether an ``alert`` opened, how large each chart is.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import websocket

FLAGS = [
    "--headless",
    "--no-sandbox",  # runs as root in CI
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
    "about:blank",
]


_BAD_CONSOLE = ("error", "warning", "assert")
CALL_TIMEOUT = 60.0


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One Chromium process with a fresh profile, and one page driven over a WebSocket."""

    def __init__(self, binary: str, *, width: int = 1280, height: int = 900):
        # Chromium's helpers (zygote, renderers, crashpad) may still write to the profile for a
        # moment after the browser exits: cleanup errors are not the page's problems.
        self.profile = tempfile.TemporaryDirectory(
            prefix="triage-chromium-", ignore_cleanup_errors=True
        )
        self.log = Path(self.profile.name + ".log")
        with self.log.open("wb") as err:  # a file, not a pipe: a full pipe would stall Chromium
            self.proc = subprocess.Popen(
                [binary, f"--user-data-dir={self.profile.name}", f"--window-size={width},{height}"]
                + FLAGS,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,  # its own process group, so close() ends its helpers
            )
        self.events: list[dict[str, Any]] = []
        self._id = 0
        try:
            port = self._port()
            self.ws = websocket.create_connection(self._page_ws(port), timeout=CALL_TIMEOUT)
            for domain in ("Page", "Runtime", "Log"):
                self.call(f"{domain}.enable")
            self.call(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
        except BaseException:
            self.close()
            raise

    def _port(self, timeout: float = 30.0) -> int:
        """Chromium writes the port it picked to DevToolsActivePort in the profile."""
        marker = Path(self.profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker.exists():
                text = marker.read_text().split()
                if text:
                    return int(text[0])
            if self.proc.poll() is not None:
                err = self.log.read_text(errors="replace")
                raise RuntimeError(f"chromium exited {self.proc.returncode}: {err[-2000:]}")
            time.sleep(0.1)
        raise TimeoutError("chromium did not open its DevTools port")

    @staticmethod
    def _page_ws(port: int, timeout: float = 30.0) -> str:
        """The page target's WebSocket; retried, as a loaded machine may be slow to serve it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                    targets = json.load(r)
                return next(t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page")
            except (OSError, StopIteration, ValueError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer, keeping every event that arrives meanwhile."""
        self._id += 1
        my_id = self._id
        self.ws.settimeout(CALL_TIMEOUT)  # wait_for may have left a short one
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, method: str, *, since: int = 0, timeout: float = 30.0) -> dict[str, Any]:
        """The first event ``method`` from index ``since`` of :attr:`events` on, waiting for it."""
        for ev in self.events[since:]:
            if ev["method"] == method:
                return ev
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(deadline - time.monotonic(), 0.1))
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    return msg
        raise TimeoutError(method)

    def open(self, url: str) -> None:
        since = len(self.events)
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired", since=since)
        self.eval("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def eval(self, expression: str) -> Any:
        res = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expression[:80]}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, log errors (CSP), dialogs."""
        out = []
        for ev in self.events:
            m, p = ev["method"], ev.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(f"exception: {p['exceptionDetails'].get('text')}")
            elif m == "Runtime.consoleAPICalled" and p.get("type") in (
                "error",
                "warning",
                "assert",
            ):
                out.append(f"console.{p['type']}: {[a.get('value') for a in p.get('args', [])]}")
            elif m == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                out.append(f"log {p['entry']['level']}: {p['entry'].get('text')}")
            elif m == "Page.javascriptDialogOpening":
                out.append(f"dialog {p.get('type')}: {p.get('message')}")
        return out

    def screenshot(self, path: str | os.PathLike[str]) -> Path:
        """A PNG of the whole page, not just the viewport."""
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(data["data"]))
        return out

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            try:
                ws.close()
            except Exception:  # noqa: BLE001  (closing a dead socket: nothing to report)
                pass
        # End the process group this object started (the browser and its helpers), by its id.
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        time.sleep(0.2)  # helpers leave after the browser
        self.profile.cleanup()
        self.log.unlink(missing_ok=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
