"""Headless Chromium driven over the DevTools protocol (a websocket; `websockets` is in the dev
extra): open a page, run JavaScript in it, and see what a user's browser would: console errors,
uncaught exceptions, blocked content (CSP), and every request the page made."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from websockets.sync.client import connect


def chromium_path() -> str:
    from conftest import needs

    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        needs("chromium is not installed: the viewer's browser tests need it (apt-get install -y chromium)")
    return found


class Page:
    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, timeout: float = 60, **params):
        self.next_id += 1
        me = self.next_id
        self.ws.send(json.dumps({"id": me, "method": method, "params": params}))
        end = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, end - time.monotonic())))
            if msg.get("id") == me:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, event: str, timeout: float = 60) -> dict:
        seen = len(self.events)
        end = time.monotonic() + timeout
        while True:
            for msg in self.events[seen:]:
                if msg.get("method") == event:
                    self.events.remove(msg)
                    return msg
            seen = len(self.events)
            msg = json.loads(self.ws.recv(timeout=max(0.1, end - time.monotonic())))
            self.events.append(msg)

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def eval(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, and the browser's own error log
        (a resource that failed, content a Content-Security-Policy blocked)."""
        out = []
        for m in self.events:
            p = m.get("params", {})
            if m.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
            elif m.get("method") == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:500])
            elif m.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                out.append("log: " + p["entry"].get("text", ""))
        return out

    def requests(self) -> list[str]:
        return [m["params"]["request"]["url"] for m in self.events if m.get("method") == "Network.requestWillBeSent"]


@contextlib.contextmanager
def browser(profile: Path):
    """A headless Chromium with no way out: every host name but 127.0.0.1 resolves to nothing."""
    proc = subprocess.Popen([chromium_path(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--remote-debugging-port=0",
                             "--remote-allow-origins=*", f"--user-data-dir={profile}", "about:blank"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        port = None
        end = time.monotonic() + 60
        while port is None and time.monotonic() < end:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            if m := re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line):
                port = int(m.group(1))
        assert port, "chromium did not start its DevTools endpoint"
        req = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
        target = json.loads(urllib.request.urlopen(req, timeout=30).read())
        with connect(target["webSocketDebuggerUrl"], max_size=2 ** 26, open_timeout=30) as ws:
            page = Page(ws)
            for domain in ("Page", "Runtime", "Log", "Network"):
                page.call(f"{domain}.enable")
            yield page
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
