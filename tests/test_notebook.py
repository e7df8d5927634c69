"""Cells in a real Jupyter kernel behave as the same code does in a script.

Each test builds a notebook with nbformat and runs it with nbclient in a fresh ipykernel
started from a kernel spec in a temporary directory: the kernel is this Python
(``sys.executable``) importing this checkout's actorio (``PYTHONPATH``), and every Jupyter and
IPython directory points into the test's temporary directory, so nothing is written to the
user's home. The checks read what each cell printed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from test_examples import SEED_OUTPUT

import actorio

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "examples" / "ray_seed"
KERNEL = "actorio-test"
CELL_TIMEOUT_S = 30  # nbclient's bound on each cell; a kernel that hangs fails the test

#: The first cell of every notebook: which Python and which actorio the kernel runs.
PROBE = "import sys, actorio\nprint(sys.executable)\nprint(actorio.__file__)"

COUNTER = """\
import asyncio

import actorio as ray


@ray.remote
class Counter:
    def __init__(self, start: int = 0) -> None:
        self.count = start

    def increment(self) -> int:
        self.count += 1
        return self.count

    def get_count(self) -> int:
        return self.count
"""


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernel spec for this Python, found through JUPYTER_PATH; its name."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    kernel_json = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "actorio tests",
        "language": "python",
        "env": {"PYTHONPATH": pythonpath},
    }
    (spec / "kernel.json").write_text(json.dumps(kernel_json))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # the current layout, no warning
    for var, where in (
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),  # connection files
        ("IPYTHONDIR", "ipython"),  # the kernel's profile and history
        ("MPLCONFIGDIR", "matplotlib"),
        ("HOME", "home"),  # anything else that would write under ~
    ):
        monkeypatch.setenv(var, str(tmp_path / where))
    monkeypatch.delenv("ACTORIO_BACKEND", raising=False)  # each test chooses
    return KERNEL


def _stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(
        out["text"]
        for out in cell.get("outputs", [])
        if out["output_type"] == "stream" and out["name"] == "stdout"
    )


def run_notebook(kernel: str, cwd: Path, cells: list[str]) -> list[str]:
    """Run ``cells`` in order in a fresh kernel (stopped afterwards); what each printed.

    The first cell that raises fails the test with its error; later cells do not run."""
    # nbformat's constructors carry no annotations.
    nb = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    nb.cells = [
        nbformat.v4.new_code_cell(source)  # type: ignore[no-untyped-call]
        for source in (PROBE, *cells)
    ]
    client = NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=CELL_TIMEOUT_S,
        startup_timeout=60,
        resources={"metadata": {"path": str(cwd)}},
    )
    error: CellExecutionError | None = None
    try:
        client.execute()
    except CellExecutionError as exc:
        error = exc  # reported below, without nbclient's coloured traceback
    if error is not None:
        failed = next(
            i
            for i, cell in enumerate(nb.cells)
            if any(o["output_type"] == "error" for o in cell.get("outputs", []))
        )
        pytest.fail(
            f"cell {failed} raised {error.ename}: {error.evalue}\n"
            f"(it printed {_stdout(nb.cells[failed])!r})\n"
            f"--- its source:\n{nb.cells[failed].source}",
            pytrace=False,
        )
    printed = [_stdout(cell) for cell in nb.cells]
    assert printed[0].splitlines() == [sys.executable, actorio.__file__]
    return printed[1:]


def _cells_of(script: str) -> list[str]:
    """A script pasted into a notebook the way people do: a cell per top-level block (the
    blocks are separated by two blank lines), so the class is defined in one cell and used
    in the next."""
    return [block.strip() + "\n" for block in script.split("\n\n\n") if block.strip()]


@pytest.mark.parametrize("name", sorted(SEED_OUTPUT))
@pytest.mark.parametrize("backend", ["local", "process"], ids=["local", "process"])
def test_seed_script_pasted_into_cells(
    kernel: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, backend: str
) -> None:
    """The Ray tutorial's scripts with ``import actorio as ray``, a block per cell."""
    monkeypatch.setenv("ACTORIO_BACKEND", backend)  # read by the kernel's actorio
    source = (SEEDS / name).read_text()
    assert source.splitlines()[0] == "import actorio as ray"
    cells = _cells_of(source)
    assert len(cells) >= 3  # the import, the class, its use
    printed = run_notebook(kernel, tmp_path, cells)
    assert "".join(printed).splitlines() == SEED_OUTPUT[name]


def test_actors_made_in_one_cell_are_read_with_get_in_a_later_one(
    kernel: str, tmp_path: Path
) -> None:
    printed = run_notebook(
        kernel,
        tmp_path,
        [
            COUNTER,
            "counters = [Counter.remote(start) for start in (0, 10, 20)]\n"
            "first = [c.increment.remote() for c in counters]\n"
            "print(f'made {len(counters)}')",
            "print(f'first={ray.get(first)}')",
            "print(f'then={ray.get([c.increment.remote() for c in counters])}')\n"
            "print(f'one={ray.get(counters[1].get_count.remote())}')",
        ],
    )
    assert printed == ["", "made 3\n", "first=[1, 11, 21]\n", "then=[2, 12, 22]\none=12\n"]


def test_top_level_await_of_a_ref(kernel: str, tmp_path: Path) -> None:
    """IPython runs a cell with a top-level ``await`` on the kernel's loop: refs made there
    and refs made by an earlier cell are awaited alike."""
    printed = run_notebook(
        kernel,
        tmp_path,
        [
            COUNTER,
            "counter = Counter.remote(100)\nearlier = counter.increment.remote()",
            "value = await earlier\nprint(f'{value=}')",
            "now = await counter.increment.remote()\nprint(f'{now=}')",
            # What BlockingCallOnLoopError's message advises in async code.
            "both = await asyncio.gather(counter.increment.remote(), counter.get_count.remote())\n"
            "print(f'{both=}')",
            "done, _ = await asyncio.wait([counter.get_count.remote()])\n"
            "print(f'waited={[ref.result() for ref in done]}')",
        ],
    )
    assert printed == [
        "",
        "",
        "value=101\n",
        "now=102\n",
        "both=[103, 103]\n",
        "waited=[103]\n",
    ]


def test_get_in_a_cell_after_awaiting_in_an_earlier_one(kernel: str, tmp_path: Path) -> None:
    """The two spellings on the same actor, one cell after the other."""
    printed = run_notebook(
        kernel,
        tmp_path,
        [
            COUNTER,
            "counter = Counter.remote(5)\nprint(f'awaited={await counter.increment.remote()}')",
            "print(f'got={ray.get(counter.increment.remote())}')",
            "print(f'awaited again={await counter.get_count.remote()}')",
        ],
    )
    assert printed == ["", "awaited=6\n", "got=7\n", "awaited again=7\n"]


GATE = '''\
@ray.remote
class Gate:
    """An async actor whose ``passed`` finishes only once ``open`` was called."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()

    async def passed(self) -> str:
        await self.opened.wait()
        return "passed"

    async def open(self) -> None:
        self.opened.set()
'''


def test_wait_in_a_cell(kernel: str, tmp_path: Path) -> None:
    """``ray.wait`` returns what is ready, keeps the input order, and honours timeouts."""
    printed = run_notebook(
        kernel,
        tmp_path,
        [
            COUNTER,
            GATE,
            "gate, counter = Gate.remote(), Counter.remote(7)\n"
            "held, quick = gate.passed.remote(), counter.get_count.remote()\n"
            "ready, rest = ray.wait([held, quick], num_returns=1, timeout=20)\n"
            "print(f'ready={ray.get(ready)}, rest is held: {rest == [held]}')",
            "ready, rest = ray.wait([held], timeout=0)\n"
            "print(f'timeout=0: ready={len(ready)}, rest={len(rest)}')",
            "ray.get(gate.open.remote())\n"
            "ready, rest = ray.wait([held, quick], num_returns=2, timeout=20)\n"
            "print(f'both={ray.get(ready)}, rest={rest}')",
        ],
    )
    assert printed == [
        "",
        "",
        "ready=[7], rest is held: True\n",
        "timeout=0: ready=0, rest=1\n",
        "both=['passed', 7], rest=[]\n",
    ]
