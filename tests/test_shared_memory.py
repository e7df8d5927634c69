"""Large values cross to and from worker processes in shared memory: numpy arrays of every
layout arrive equal (large ones as read-only views of the shared pages), containers hold
several, a put is pickled once for many readers, small values keep the plain path, and a
value too large for the machine fails clearly without hurting the actor."""

from __future__ import annotations

import mmap
import pickle
import time
from pathlib import Path
from typing import Any, SupportsIndex

import pytest

import actorio
from actorio.backends import _shm, _wire
from actorio.backends._messages import Call
from actorio.backends._process_actor import ProcessActor
from actorio.exceptions import SerializationError

np = pytest.importorskip("numpy")

from _actors import WAIT  # noqa: E402

BIG = 2 * _shm.MIN_BYTES  # two MiB: over the threshold


@actorio.remote
class Store:
    def __init__(self) -> None:
        self.kept: Any = None

    def echo(self, value: Any) -> Any:
        return value

    def describe(self, a: Any) -> tuple[bool, float, tuple[int, ...], str]:
        """What the worker sees: writable?, a checksum, the shape, the dtype."""
        return (
            bool(a.flags.writeable),
            float(np.asarray(a, dtype=np.float64).sum()),
            a.shape,
            str(a.dtype),
        )

    def kind(self, value: Any) -> tuple[str, bool, bytes]:
        view = memoryview(value)
        return type(value).__name__, view.readonly, view[:4].tobytes()

    def try_write(self, a: Any) -> str:
        try:
            a[0] = 1
        except ValueError as exc:
            return str(exc)
        return "written"

    def make(self, n: int, dtype: str) -> Any:
        return np.arange(n, dtype=dtype)

    def keep(self, value: Any) -> int:
        self.kept = value
        return len(value)

    def checksum_kept(self) -> float:
        return float(self.kept.sum())

    def checksum_nested(self, refs: list[Any]) -> float:
        """A ref nested in a list arrives as a ref: its value is fetched from the driver."""
        return float(actorio.get(refs[0]).sum())

    def sparse(self, path: str, size: int) -> Any:
        """A huge array over a sparse file: nothing is read until it is copied."""
        with open(path, "rb") as f:
            mm = mmap.mmap(f.fileno(), size, prot=mmap.PROT_READ)
        return np.frombuffer(mm, dtype=np.uint8)


@actorio.remote
def checksum(a: Any) -> float:
    return float(a.sum())


class Strided:
    """An object whose protocol-5 buffer is not contiguous (pickle cannot copy it itself)."""

    def __init__(self, base: Any) -> None:
        self.base = base

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        view = memoryview(self.base)[::2]  # every other element: strided
        return (_rebuild_strided, (pickle.PickleBuffer(view), self.base.dtype.str))


def _rebuild_strided(buffer: Any, dtype: str) -> Any:
    return np.frombuffer(buffer, dtype=dtype).copy()


@pytest.fixture
def process() -> None:
    actorio.init(backend="process")


@pytest.mark.parametrize("dtype", ["float64", "int8", "complex128", "bool", "uint16"])
def test_arrays_of_each_dtype_arrive_equal(process: None, dtype: str) -> None:
    s = Store.remote()
    a = (np.arange(BIG // np.dtype(dtype).itemsize + 3) % 7).astype(dtype)
    back = actorio.get(s.echo.remote(a), timeout=WAIT)
    assert back.dtype == a.dtype
    assert back.shape == a.shape
    assert np.array_equal(back, a)
    assert not back.flags.writeable  # a view of the shared pages


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a.reshape(512, -1),  # 2-D, C order
        lambda a: np.asfortranarray(a.reshape(512, -1)),  # Fortran order
        lambda a: a[::3],  # strided view: numpy copies it into the stream
        lambda a: a.reshape(512, -1).T,  # transposed view
        lambda a: a[10:-10],  # an offset view
    ],
    ids=["2d", "fortran", "strided", "transposed", "offset"],
)
def test_shapes_and_views_arrive_correct(process: None, make: Any) -> None:
    s = Store.remote()
    a = make(np.arange(BIG // 8 * 2, dtype=np.float64))
    back = actorio.get(s.echo.remote(a), timeout=WAIT)
    assert back.shape == a.shape
    assert np.array_equal(back, a)
    _, total, shape, dtype = actorio.get(s.describe.remote(a), timeout=WAIT)
    assert (total, shape, dtype) == (float(a.sum()), a.shape, "float64")


def test_a_large_received_array_is_read_only_and_says_so(process: None) -> None:
    s = Store.remote()
    big, small = np.zeros(BIG // 8), np.zeros(16)
    assert (
        actorio.get(s.try_write.remote(big), timeout=WAIT) == "assignment destination is read-only"
    )
    assert actorio.get(s.try_write.remote(small), timeout=WAIT) == "written"  # as before
    copy = actorio.get(s.echo.remote(big), timeout=WAIT).copy()  # a private copy is writable
    copy[0] = 5.0
    assert copy[0] == 5.0


def test_bytes_like_values(process: None) -> None:
    s = Store.remote()
    data = bytes(range(256)) * (BIG // 256)
    assert actorio.get(s.echo.remote(data), timeout=WAIT) == data  # bytes: in the stream
    back = actorio.get(s.echo.remote(bytearray(data)), timeout=WAIT)
    assert type(back) is bytearray  # rebuilt by bytearray() from the pages
    assert back == data
    # A PickleBuffer reaches the worker as a read-only view of the pages, not a copy.
    kind = actorio.get(s.kind.remote(pickle.PickleBuffer(data)), timeout=WAIT)
    assert kind == ("memoryview", True, data[:4])


def test_containers_holding_several_large_buffers(process: None) -> None:
    s = Store.remote()
    a, b, c = (np.full(BIG // 8, float(i)) for i in range(3))
    value = {"a": a, "rest": [b, (c, "label")], "small": np.arange(4)}
    back = actorio.get(s.echo.remote(value), timeout=WAIT)
    assert np.array_equal(back["a"], a)
    assert np.array_equal(back["rest"][0], b)
    assert np.array_equal(back["rest"][1][0], c)
    assert back["rest"][1][1] == "label"
    assert back["small"].tolist() == [0, 1, 2, 3]


def test_values_made_in_a_worker_come_back(process: None) -> None:
    s = Store.remote()
    for dtype in ("float64", "int32"):
        got = actorio.get(s.make.remote(BIG, dtype), timeout=WAIT)
        assert np.array_equal(got, np.arange(BIG, dtype=dtype))
        assert not got.flags.writeable


def test_a_result_the_driver_drops_is_released_at_once(process: None) -> None:
    # The worker sends nothing after its result: nothing in the driver may hold the value
    # meanwhile (its reader thread kept the last message until the next one arrived).
    s = Store.remote()
    got = actorio.get(s.make.remote(BIG, "float64"), timeout=WAIT)
    core = s._actorio_actor
    assert isinstance(core, ProcessActor)
    assert core.calls.link is not None
    mappings = core.calls.link.mappings
    assert [m.received for m in mappings.maps.values()] == [1]
    del got
    deadline = time.monotonic() + WAIT
    # Released: the driver told the worker its segment is free (the count goes back to 0).
    while any(m.received for m in mappings.maps.values()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [m.received for m in mappings.maps.values()] in ([0], [])


def test_a_put_is_pickled_once_for_many_readers(process: None) -> None:
    a = np.arange(BIG, dtype=np.float64)
    ref = actorio.put(a)
    stores = [Store.remote() for _ in range(3)]
    before = _shm.POOL.writes
    sums = actorio.get(
        [s.describe.remote(ref) for s in stores] + [checksum.remote(ref) for _ in range(2)],
        timeout=WAIT,
    )
    expected = float(a.sum())
    assert [x[1] for x in sums[:3]] == [expected] * 3
    assert sums[3:] == [expected] * 2
    assert _shm.POOL.writes - before == 1  # one copy into shared memory for five readers


def test_a_ref_fetched_by_many_workers_at_once_is_pickled_once(process: None) -> None:
    # Each worker fetches a nested ref's value itself, answered by its own reader thread in
    # the driver: all at once here (the value takes a while to pickle), still one copy.
    a = np.arange(BIG * 2, dtype=np.float64)  # 32 MiB
    ref = actorio.put(a)
    stores = [Store.remote() for _ in range(3)]
    actorio.get([s.kind.remote(b"up") for s in stores], timeout=WAIT)
    before = _shm.POOL.writes
    sums = actorio.get([s.checksum_nested.remote([ref]) for s in stores], timeout=WAIT)
    assert sums == [float(a.sum())] * 3
    assert _shm.POOL.writes - before == 1


def test_a_buffer_that_is_not_contiguous_is_copied(process: None) -> None:
    s = Store.remote()
    base = np.arange(BIG // 4, dtype=np.float64)  # a strided view of it is over the threshold
    back = actorio.get(s.echo.remote(Strided(base)), timeout=WAIT)
    assert np.array_equal(back, base[::2])
    small = np.arange(10, dtype=np.float64)
    assert np.array_equal(actorio.get(s.echo.remote(Strided(small)), timeout=WAIT), small[::2])


def test_small_values_keep_the_plain_path() -> None:
    call = Call(1, "echo", (np.zeros(128), b"x" * 1000), {}, 1, None, None)
    frame = _wire.dumps(call)
    assert type(frame) is bytes  # no segment, no descriptor: one plain write
    big = _wire.dumps(call._replace(args=(np.zeros(BIG // 8),)))
    assert isinstance(big, _wire.Frame)
    assert len(big.uses) == 1  # the array is in a segment
    assert len(big.data) < 4096  # and not in the frame


def _sparse_file(tmp_path: Path, size: int) -> str:
    path = tmp_path / "sparse"
    with open(path, "wb") as f:
        f.truncate(size)  # no blocks on disk: nothing is allocated
    return str(path)


def test_a_value_too_large_for_shared_memory_fails_clearly(process: None, tmp_path: Path) -> None:
    s = Store.remote()
    size = _shm.limit_bytes() + (1 << 30)
    path = _sparse_file(tmp_path, size)
    with open(path, "rb") as f:
        huge = np.frombuffer(mmap.mmap(f.fileno(), size, prot=mmap.PROT_READ), dtype=np.uint8)
    with pytest.raises(SerializationError, match=rf"{size:,} bytes.*only [\d,]+ bytes") as info:
        s.echo.remote(huge)
    assert "available" in str(info.value)
    # From a worker: its result fails the same way, and the actor lives on.
    with pytest.raises(SerializationError, match=r"bytes are available"):
        actorio.get(s.sparse.remote(path, size), timeout=WAIT)
    assert actorio.get(s.keep.remote(np.ones(BIG // 8)), timeout=WAIT) == BIG // 8
    assert actorio.get(s.checksum_kept.remote(), timeout=WAIT) == BIG // 8
