"""Shared memory leaks nothing, measured on the real processes: one large put read a hundred
times by actors and tasks costs about one copy and comes back to the baseline once dropped; a
worker SIGKILLed or restarted while it maps values frees them; a driver SIGKILLed takes every
segment with it (its workers die too); a worker's large result is freed on both sides, even
when the worker is SIGKILLed while the driver still uses it.

What is measured: the machine's ``Shmem:`` (/proc/meminfo); each process's ``VmRSS`` and
``RssShmem`` (/proc/PID/status) and its share of shared pages, ``Pss_Shmem``
(/proc/PID/smaps_rollup: summed over our processes, it counts each of our shared pages once);
and the memfd segments each process holds as descriptors (/proc/PID/fd) or mappings
(/proc/PID/maps). ``Shmem`` is the whole machine's, and other programs' shared memory comes
and goes meanwhile (a benchmark, Ray's object store): its checks wait, deadline-bounded, for
the expected state, so noise only delays them; the peak is judged on our processes' own share,
which nothing else moves.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytest

import actorio
from actorio.backends import _objects, _shm

np = pytest.importorskip("numpy")

from _actors import WAIT  # noqa: E402

MIB = 1 << 20
SIZE = 128 * MIB  # the large array: 16 Mi float64
SLACK = 32 * MIB  # what "back to the baseline" allows for (the machine's other programs)
STRIDE = 4096 // 8  # one float64 per page
RETAIN_S = 0.2  # the pool keeps free segments this long here (2 s by default)
DEADLINE = 30.0  # the longest any poll waits: a leak fails the test, a slow machine does not
MEMFD = "memfd:actorio-"

T = TypeVar("T")

pytestmark = pytest.mark.timeout(180)


# -- what a process holds -----------------------------------------------------------------------


def shmem() -> int:
    """The machine's shared memory, in bytes (tmpfs, shm and memfd pages)."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Shmem:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no Shmem line in /proc/meminfo")


def status(pid: int, key: str) -> int:
    """A size from /proc/PID/status (VmRSS, RssShmem), in bytes; 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return 0  # (a zombie has no memory lines)


def pss_shmem(pids: Iterable[int]) -> int:
    """The shared pages these processes map, each page counted once (in bytes)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss_Shmem:"):
                        total += int(line.split()[1]) * 1024
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def memfd_fds(pid: int | str) -> set[int]:
    """The inodes of the actorio segments that process holds open as descriptors."""
    found: set[int] = set()
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return found
    for name in names:
        path = f"/proc/{pid}/fd/{name}"
        try:
            if MEMFD in os.readlink(path):
                found.add(os.stat(path).st_ino)
        except OSError:
            continue  # closed meanwhile
    return found


def memfd_maps(pid: int | str) -> set[int]:
    """The inodes of the actorio segments that process has mapped."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            lines = f.read().splitlines()
    except OSError:
        return set()
    return {int(line.split()[4]) for line in lines if MEMFD in line}


def segments(pids: Iterable[int]) -> dict[int, int]:
    """The actorio segments these processes hold (open or mapped): inode -> bytes. Each one
    counts once however many processes hold it."""
    found: dict[int, int] = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/maps") as f:
                lines = [line.split() for line in f if MEMFD in line]
        except OSError:
            lines = []
        for fields in lines:
            start, end = (int(x, 16) for x in fields[0].split("-"))
            found[int(fields[4])] = max(found.get(int(fields[4]), 0), end - start)
        for inode in memfd_fds(pid):
            found.setdefault(inode, 0)  # open, not mapped: its size from the driver's maps
    return found


def all_pids() -> list[str]:
    return [p for p in os.listdir("/proc") if p.isdigit()]


def holders_of(inodes: set[int]) -> dict[str, set[int]]:
    """Every process we can read that still holds one of these segments (fd or mapping)."""
    held = {}
    for pid in all_pids():
        mine = (memfd_fds(pid) | memfd_maps(pid)) & inodes
        if mine:
            held[pid] = mine
    return held


def gone(pid: int) -> bool:
    """Exited: no /proc entry, or a zombie nobody reaped yet (it holds no memory)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def poll(what: str, check: Callable[[], T], ok: Callable[[T], bool]) -> T:
    """Check until ``ok`` or the deadline: then fail, saying what was seen last."""
    end = time.monotonic() + DEADLINE
    while True:
        seen = check()
        if ok(seen):
            return seen
        if time.monotonic() > end:
            raise AssertionError(f"{what}: still {seen!r} after {DEADLINE} s")
        time.sleep(0.02)


class Peak:
    """While the block runs (sampled every few milliseconds): the most bytes of segments that
    our processes held at once, how many distinct segments they ever held, and the machine's
    highest ``Shmem``."""

    def __init__(self, pids: Iterable[int]) -> None:
        self.pids = list(pids)
        self.ours = 0
        self.seen: set[int] = set()
        self.machine = shmem()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.stop.wait(0.01):
            held = segments(self.pids)
            self.ours = max(self.ours, sum(held.values()))
            self.seen |= held.keys()
            self.machine = max(self.machine, shmem())

    def __enter__(self) -> Peak:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


# -- actors and tasks ---------------------------------------------------------------------------


def pages(a: Any) -> float:
    """One element per page: every page is read."""
    return float(a[::STRIDE].sum())


@actorio.remote
class Reader:
    def __init__(self) -> None:
        self.kept: Any = None
        self.refs: list[Any] | None = None

    def pid(self) -> int:
        return os.getpid()

    def read(self, a: Any) -> float:
        return pages(a)

    def keep(self, a: Any) -> float:
        self.kept = a
        return self.read(a)

    def keep_ref(self, refs: list[Any]) -> int:
        """A ref nested in a list arrives as a ref: this worker holds the driver's value."""
        self.refs = refs
        return len(refs)

    def read_kept(self) -> float:
        return self.read(self.kept)

    def read_ref(self) -> float:
        assert self.refs is not None
        return self.read(actorio.get(self.refs[0]))

    def make(self, value: float) -> Any:
        return big(value)  # written into this worker's own segment

    def holds(self) -> tuple[bool, bool]:
        return self.kept is not None, self.refs is not None

    def drop(self) -> None:
        self.kept = self.refs = None


@actorio.remote
def read_task(a: Any) -> float:
    return pages(a)


@actorio.remote
def task_pid() -> int:
    return os.getpid()


def big(value: float = 1.0) -> Any:
    return np.full(SIZE // 8, value, dtype=np.float64)


EXPECTED = float(SIZE // 8 // STRIDE)  # read() of big(1.0)


@pytest.fixture
def process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process backend, its pool keeping free segments briefly (the workers get the value
    in their Create message); what earlier tests left in the pool closed first."""
    monkeypatch.setattr(_shm, "RETAIN_S", RETAIN_S)
    gc.collect()  # (their refs in garbage cycles hold cached copies)
    poll("segments left by earlier tests", settled_pool, clean)
    actorio.init(backend="process")


def worker_let_go(pid: int, rss_limit: int) -> None:
    """Wait until a worker holds none of our segments and its RssShmem is back to the limit."""
    poll(f"worker {pid}'s segments", lambda: memfd_maps(pid) | memfd_fds(pid), lambda m: not m)
    poll(f"worker {pid}'s RssShmem", lambda: status(pid, "RssShmem"), lambda n: n <= rss_limit)


def report(what: str, **sizes: int) -> None:
    """What was measured, in MiB (shown with pytest -s)."""
    print(what + ": " + ", ".join(f"{k} {v / MIB:.0f}" for k, v in sizes.items()), flush=True)


def settled_pool() -> tuple[int, int, set[int]]:
    return _shm.POOL.in_use(), _shm.POOL.pooled(), memfd_fds(os.getpid())


def clean(seen: tuple[int, int, set[int]]) -> bool:
    return seen == (0, 0, set())


# -- 1. one put read a hundred times ------------------------------------------------------------


def test_a_put_read_a_hundred_times_costs_one_copy_and_is_freed(process: None) -> None:
    readers = [Reader.remote() for _ in range(4)]
    workers = set(actorio.get([r.pid.remote() for r in readers], timeout=WAIT))
    workers |= set(actorio.get([task_pid.remote() for _ in range(8)], timeout=WAIT))
    driver = os.getpid()
    ours = [driver, *workers]
    base, base_ours, base_rss = shmem(), pss_shmem(ours), status(driver, "VmRSS")
    base_worker = {pid: status(pid, "RssShmem") for pid in workers}

    ref = actorio.put(big())
    with Peak(ours) as peak:
        calls = [r.read.remote(ref) for r in readers for _ in range(20)]
        calls += [read_task.remote(ref) for _ in range(20)]
        assert actorio.get(calls, timeout=WAIT) == [EXPECTED] * 100
        # Four workers keep it mapped at once, beside the driver's segment.
        assert actorio.get([r.keep.remote(ref) for r in readers], timeout=WAIT) == [EXPECTED] * 4
        held = {pid: status(pid, "RssShmem") - base_worker[pid] for pid in workers}
        driver_shared = status(driver, "RssShmem")
        shared = pss_shmem(ours) - base_ours  # (all still: each shared page counted once)
        # The machine sees one copy too (waited for: others' shared memory comes and goes).
        machine = poll(
            "the machine's Shmem, held", shmem, lambda n: 0.9 * SIZE < n - base < 2 * SIZE
        )
    # One copy for a hundred reads and four keepers: a copy per send (or per reader) fails
    # the upper bounds; the lower ones prove that the measures see the array at all.
    assert 0.9 * SIZE < peak.ours < 2 * SIZE, f"peak {peak.ours / MIB:.0f} MiB"
    assert len(peak.seen) == 1  # one segment, written once
    assert 0.9 * SIZE < shared < 2 * SIZE, f"held {shared / MIB:.0f} MiB"
    assert driver_shared > 0.9 * SIZE  # the driver wrote the segment
    assert sum(n > 0.9 * SIZE for n in held.values()) >= 4  # each keeper maps all of it
    assert _shm.POOL.in_use() >= SIZE
    report(
        "put read 100 times",
        machine_base=base,
        machine_held=machine,
        machine_peak=peak.machine,
        ours_peak=peak.ours,
        ours_held=shared,
        driver_rss_shmem=driver_shared,
    )

    # Dropped everywhere: the keepers let go, the driver drops the ref (so its cached copy).
    actorio.get([r.drop.remote() for r in readers], timeout=WAIT)
    del ref, calls
    # A segment nobody frees (a lost Unmapped, a Use never dropped, a pool never trimmed)
    # leaves in_use or pooled above 0 and its descriptor open in the driver.
    poll("the driver's pool and descriptors", settled_pool, clean)
    for pid in workers:
        worker_let_go(pid, base_worker[pid] + SLACK)
    poll("our share of shared memory", lambda: pss_shmem(ours), lambda n: n <= base_ours + SLACK)
    after = poll("the machine's Shmem", shmem, lambda n: n <= base + SLACK)
    poll("the driver's RSS", lambda: status(driver, "VmRSS"), lambda n: n <= base_rss + SLACK)
    report("put read 100 times, dropped", base=base, after=after)
    assert actorio.get(readers[0].pid.remote(), timeout=WAIT) in workers  # all still serving


# -- 2. a worker SIGKILLed while it maps a value ------------------------------------------------


def test_a_sigkilled_worker_frees_what_it_mapped_and_restarts(process: None) -> None:
    keeper = Reader.options(max_restarts=1, max_task_retries=1).remote()
    pid = actorio.get(keeper.pid.remote(), timeout=WAIT)
    base, base_ours = shmem(), pss_shmem([os.getpid(), pid])
    assert actorio.get(keeper.keep.remote(big()), timeout=WAIT) == EXPECTED
    inodes = memfd_maps(pid)
    assert len(inodes) == 1  # the worker maps the segment the driver sent
    assert memfd_fds(os.getpid()) == inodes  # which the driver holds for it
    assert pss_shmem([os.getpid(), pid]) - base_ours > 0.9 * SIZE
    assert _shm.POOL.in_use() >= SIZE

    os.kill(pid, signal.SIGKILL)
    poll("the killed worker", lambda: gone(pid), bool)
    # The driver must count the dead worker's copies as unmapped (peer_gone); if not, the
    # segment stays in use, its descriptor open, and its pages in Shmem.
    poll("the driver's pool and descriptors", settled_pool, clean)
    poll("the machine's Shmem", shmem, lambda n: n <= base + SLACK)
    assert holders_of(inodes) == {}

    # Restarted in a fresh process, which gets (and keeps) a large array again, correctly.
    new_pid = actorio.get(keeper.pid.remote(), timeout=WAIT)
    assert new_pid != pid
    assert actorio.get(keeper.keep.remote(big(3.0)), timeout=WAIT) == 3 * EXPECTED
    assert actorio.get(keeper.read_kept.remote(), timeout=WAIT) == 3 * EXPECTED
    assert len(memfd_maps(new_pid)) == 1
    actorio.get(keeper.drop.remote(), timeout=WAIT)
    poll("the driver's pool after the restart", settled_pool, clean)
    poll("the new worker's mappings", lambda: memfd_maps(new_pid), lambda m: not m)


# -- 3. the driver SIGKILLed --------------------------------------------------------------------

DRIVER = textwrap.dedent(
    f"""
    import os, sys, threading
    import numpy as np
    import actorio

    @actorio.remote
    class Keeper:
        def keep(self, a):
            self.kept = a
            return float(a[::{STRIDE}].sum())

        def pid(self):
            return os.getpid()

    actorio.init(backend="process")
    keeper = Keeper.remote()
    ref = actorio.put(np.ones({SIZE // 8}))
    assert actorio.get(keeper.keep.remote(ref), timeout=60) == {EXPECTED}
    print(actorio.get(keeper.pid.remote(), timeout=60), flush=True)
    print("ready", flush=True)
    threading.Event().wait()
    """
)


def _lines(stream: Any, count: int) -> list[str]:
    """The first ``count`` lines of a child's output, or fail at the deadline."""
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.extend(stream.readline() for _ in range(count)))
    reader.daemon = True
    reader.start()
    reader.join(DEADLINE)
    assert not reader.is_alive(), f"the driver script said only {got!r}"
    return [line.strip() for line in got]


def _dev_shm() -> set[str]:
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


def test_a_sigkilled_driver_leaves_no_segment_anywhere(tmp_path: Path) -> None:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    root = Path(actorio.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    base, shm_entries = shmem(), _dev_shm()
    child = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    try:
        first, second = _lines(child.stdout, 2)
        assert second == "ready", (first, second)
        worker = int(first)
        # The segment, as the driver holds it (fd) and the worker maps it: by inode, so that
        # other programs' segments of the same name do not count.
        inodes = memfd_fds(child.pid) | memfd_maps(worker)
        assert memfd_fds(child.pid)
        assert memfd_maps(worker) == memfd_fds(child.pid)
        assert pss_shmem([child.pid, worker]) > 0.9 * SIZE
    finally:
        child.kill()
        child.wait(WAIT)
        if child.stdout is not None:
            child.stdout.close()
    try:
        # The worker dies with the driver (PDEATHSIG, or its socket's end): if it lived on,
        # it would keep the mapping.
        poll("the worker of the killed driver", lambda: gone(worker), bool)
    finally:
        if not gone(worker):
            os.kill(worker, signal.SIGKILL)  # (a failed test leaves no orphan behind)
    poll("processes holding the driver's segment", lambda: holders_of(inodes), lambda h: not h)
    poll("the machine's Shmem", shmem, lambda n: n <= base + SLACK)
    assert _dev_shm() - shm_entries == set()  # nothing named: memfds only


# -- 4. a worker restarted while it maps values and holds a ref ----------------------------------


def test_a_restarted_worker_releases_its_mappings_and_refs(process: None) -> None:
    keeper = Reader.options(max_restarts=1).remote()
    other = Reader.remote()
    pid = actorio.get(keeper.pid.remote(), timeout=WAIT)
    assert actorio.get(keeper.keep.remote(big()), timeout=WAIT) == EXPECTED
    ref = actorio.put(big(2.0))
    # Both hold the put as a ref; the driver then drops its own: only the workers keep it.
    assert actorio.get([h.keep_ref.remote([ref]) for h in (keeper, other)], timeout=WAIT) == [1, 1]
    del ref
    assert (
        actorio.get([h.read_ref.remote() for h in (keeper, other)], timeout=WAIT)
        == [2 * EXPECTED] * 2
    )
    assert _objects.exported_count() == 1
    assert _shm.POOL.in_use() == 2 * SIZE  # the array the keeper kept, and the put's one copy

    death = actorio.monitor(keeper)
    actorio.kill(keeper, no_restart=False)
    new_pid = actorio.get(keeper.pid.remote(), timeout=WAIT)
    assert new_pid != pid
    assert not death.done()  # restarted, not dead
    assert actorio.get(keeper.read.remote(big(5.0)), timeout=WAIT) == 5 * EXPECTED
    assert actorio.get(keeper.holds.remote(), timeout=WAIT) == (False, False)  # a new instance
    poll("the old worker", lambda: gone(pid), bool)
    # Only the put's copy is left, for the worker that still holds the ref: a restart that
    # forgot what the old worker mapped (or the ref it held) leaves more in use.
    poll("the pool after the restart", _shm.POOL.in_use, lambda n: n == SIZE)
    assert _objects.exported_count() == 1
    actorio.get(other.drop.remote(), timeout=WAIT)
    # The last holder dropped it: the driver frees the ref, its cached copy and segment.
    poll("the driver's exported refs", _objects.exported_count, lambda n: n == 0)
    poll("the driver's pool and descriptors", settled_pool, clean)
    assert actorio.get(keeper.keep.remote(big(7.0)), timeout=WAIT) == 7 * EXPECTED
    assert actorio.get(keeper.read_kept.remote(), timeout=WAIT) == 7 * EXPECTED
    actorio.get(keeper.drop.remote(), timeout=WAIT)
    poll("the driver's pool after the last call", settled_pool, clean)


# -- 5. the other way: a worker's large result --------------------------------------------------


def test_a_workers_result_is_freed_on_both_sides_even_after_a_sigkill(process: None) -> None:
    maker = Reader.remote()
    pid = actorio.get(maker.pid.remote(), timeout=WAIT)
    driver = os.getpid()
    base = shmem()
    back = actorio.get(maker.make.remote(4.0), timeout=WAIT)
    assert pages(back) == 4 * EXPECTED
    inodes = memfd_maps(driver)
    assert len(inodes) == 1  # the driver maps the worker's segment
    assert memfd_fds(pid) == inodes  # which the worker holds in its pool
    del back
    # Dropped: the worker's pool closes the segment after its retention and tells the
    # driver, which unmaps it; a lost Closed leaves it mapped here forever.
    poll(
        "the driver's mappings of the worker's segment", lambda: memfd_maps(driver), lambda m: not m
    )
    poll("the worker's segments", lambda: memfd_fds(pid) | memfd_maps(pid), lambda m: not m)

    # Killed while the driver holds a value made of its segment: the value stays readable
    # (the mapping keeps the pages), and dropping it frees them.
    back = actorio.get(maker.make.remote(6.0), timeout=WAIT)
    inodes = memfd_maps(driver)
    assert len(inodes) == 1
    os.kill(pid, signal.SIGKILL)
    poll("the killed worker", lambda: gone(pid), bool)
    assert pages(back) == 6 * EXPECTED
    assert holders_of(inodes) == {str(driver): inodes}  # only the value's mapping is left
    del back
    poll("processes holding the dead worker's segment", lambda: holders_of(inodes), lambda h: not h)
    poll("the machine's Shmem", shmem, lambda n: n <= base + SLACK)
