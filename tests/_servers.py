"""Start the example servers as real processes on loopback, for the web and browser tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
#: where tests leave what a person may want to look at (latency figures, screenshots)
ARTIFACTS = Path(os.environ.get("ACTORIO_ARTIFACTS", ROOT / "artifacts"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One example script running as a server; ``stop()`` signals it and collects stderr."""

    def __init__(self, script: str, probe: str, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / script), "--port", str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + probe, timeout=1).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                out, err = self.proc.communicate(timeout=5)
                raise RuntimeError(f"{script} did not start:\n{out}\n{err}")
            time.sleep(0.05)

    def stop(self, sig: int | None = signal.SIGTERM, timeout: float = 15) -> tuple[int, str]:
        """Signal the server (unless ``sig`` is None: signalled already); its exit code and
        stderr once it is gone."""
        if sig is not None:
            self.proc.send_signal(sig)
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
            raise AssertionError(f"the server did not exit within {timeout} s:\n{err}")
        return self.proc.returncode, err


@contextlib.contextmanager
def running(script: str, probe: str, *args: str) -> Iterator[Server]:
    server = Server(script, probe, *args)
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.communicate()
