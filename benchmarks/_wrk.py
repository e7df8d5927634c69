"""wrk, the HTTP load generator, run as a separate process and its report read.

wrk counts the answers it read; when its time is up it stops with up to one request per
connection still unanswered, which the server serves all the same. So its script also counts
the requests it wrote, the number a server-side counter must reach exactly.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

__all__ = ["PROGRAM", "WrkRun", "parse", "run", "version"]

PROGRAM = "wrk"

#: POSTs (each one increments a counter), and a count of the requests written, over threads.
_SCRIPT = """\
wrk.method = "POST"
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  -- wrk asks its first thread for one request to check it, and never sends that one
  thread:set("written", #threads == 1 and -1 or 0)
end
function request()
  written = written + 1
  return wrk.request()
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("written")
  end
  io.write(string.format("Requests written: %d\\n", total))
end
"""

_TIME = r"([\d.]+)(us|ms|s|m|h)"
_US_PER = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}
_ANSWERED = re.compile(rf"^\s*(\d+) requests in {_TIME},", re.M)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)\s*$", re.M)
_WRITTEN = re.compile(r"^Requests written: (\d+)\s*$", re.M)
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses: (\d+)\s*$", re.M)
_SOCKET = re.compile(
    r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$", re.M
)


def _percentile(text: str, p: int) -> re.Pattern[str]:
    return re.compile(rf"^\s*{p}%\s+{_TIME}\s*$", re.M)


@dataclass(frozen=True)
class WrkRun:
    """What one wrk run reported."""

    #: Answers read (wrk's "N requests in T").
    answered: int
    #: Requests written: the answered ones and those left in flight when time was up.
    written: int
    seconds: float
    requests_per_s: float
    p50_us: float
    p99_us: float
    #: Answers with a status of 400 or more (wrk's "Non-2xx or 3xx responses").
    non_2xx: int
    #: Connect, read, write errors and timeouts, summed.
    socket_errors: int


def _find(pattern: re.Pattern[str], text: str, what: str) -> re.Match[str]:
    found = pattern.search(text)
    if found is None:
        raise RuntimeError(f"wrk: no {what} in its report:\n{text[-2000:]}")
    return found


def _us(found: re.Match[str], at: int) -> float:
    return float(found[at]) * _US_PER[found[at + 1]]


def parse(text: str) -> WrkRun:
    """The figures of a report of ``wrk --latency`` with this module's script."""
    answered = _find(_ANSWERED, text, "'N requests in' line")
    non_2xx = _NON_2XX.search(text)  # printed only when there are some; likewise errors
    errors = _SOCKET.search(text)
    return WrkRun(
        answered=int(answered[1]),
        written=int(_find(_WRITTEN, text, "'Requests written' line (the script's)")[1]),
        seconds=_us(answered, 2) / 1e6,
        requests_per_s=float(_find(_RATE, text, "'Requests/sec' line")[1]),
        p50_us=_us(_find(_percentile(text, 50), text, "50% latency (--latency)"), 1),
        p99_us=_us(_find(_percentile(text, 99), text, "99% latency (--latency)"), 1),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def run(url: str, seconds: int, *, threads: int, connections: int) -> WrkRun:
    """One run of wrk on ``url``; fails loudly on an error answer or a socket error, since
    the counts would no longer say what the server did."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(_SCRIPT)
        script.flush()
        argv = [PROGRAM, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
        done = subprocess.run(
            [*argv, "-s", script.name, url], capture_output=True, text=True, timeout=seconds + 60
        )
    if done.returncode != 0:
        raise RuntimeError(f"wrk on {url} exited {done.returncode}: {done.stderr[-2000:]}")
    report = parse(done.stdout)
    if report.non_2xx or report.socket_errors:
        raise RuntimeError(
            f"wrk on {url}: {report.non_2xx} error answers and {report.socket_errors} socket "
            f"errors in {report.answered} answers:\n{done.stdout}"
        )
    if not report.answered <= report.written <= report.answered + connections:
        raise RuntimeError(
            f"wrk on {url}: {report.written} requests written for {report.answered} answers "
            f"over {connections} connections"
        )
    return report


def version() -> str:
    """wrk's version, as ``wrk -v`` prints it (it exits 1 after its usage text)."""
    path = shutil.which(PROGRAM)
    if path is None:
        return "not installed"
    out = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=10).stdout
    words = out.split()
    return words[1] if len(words) > 1 and words[0] == PROGRAM else "unknown"
