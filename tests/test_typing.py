"""Typed handles: mypy (with actorio.mypy_plugin) and pyright accept tests/typing/ as written.

Each expected error there is marked with an ignore comment that the checker reports when
unused, so an error that stops happening fails these tests as surely as a new one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TYPING = ROOT / "tests" / "typing"
MYPY_FILES = ("actors.py", "check_handles.py")

pytestmark = pytest.mark.timeout(180)  # a cold mypy run reads the standard library


def _mypy(cache: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(TYPING / "mypy.ini")]
    cmd += ["--cache-dir", str(cache), "--no-error-summary", *map(str, files)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The typing files, copied so a second run can change one; checked once, cold."""
    where = tmp_path_factory.mktemp("typing")
    for name in MYPY_FILES:
        shutil.copy(TYPING / name, where / name)
    result = _mypy(where / "cache", *(where / n for n in MYPY_FILES))
    assert result.returncode == 0, result.stdout + result.stderr
    return where


def test_mypy_with_the_plugin_accepts_the_typing_tests(checked: Path) -> None:
    assert (checked / "cache").is_dir()


def test_mypy_reads_the_actors_back_from_its_cache(checked: Path) -> None:
    # Only check_handles.py changes, so the plugin works from actors.py's cached types.
    check = checked / "check_handles.py"
    check.write_text(check.read_text() + "\n# touched\n")
    result = _mypy(checked / "cache", *(checked / n for n in MYPY_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_typed_handles_example_checks_and_its_commented_errors_are_errors(
    checked: Path,
) -> None:
    example = ROOT / "examples" / "typed_handles.py"
    result = _mypy(checked / "cache", example)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = checked / "typed_handles_broken.py"
    text = example.read_text()
    for wrong in ("inv.take.remote(2)", 'inv.sell.remote("apple")'):
        text = text.replace(f"# {wrong}", f"{wrong}  #")
    broken.write_text(text)
    result = _mypy(checked / "cache", broken)
    assert 'incompatible type "int"; expected "str"' in result.stdout
    assert 'Actor "Inventory" has no remote method "sell"' in result.stdout


def test_mypy_error_messages(checked: Path) -> None:
    snippet = checked / "wrong.py"
    snippet.write_text(
        "from actors import Counter\n"
        "h = Counter.remote(1)\n"
        'h.add.remote("x")\n'
        "h.nope.remote()\n"
        'Counter.remote("x")\n'
    )
    result = _mypy(checked / "cache", snippet)
    lines = [line.split(": ", 1)[1] for line in result.stdout.splitlines()]
    assert lines == [
        'error: Argument 1 has incompatible type "str"; expected "int"  [arg-type]',
        'error: Actor "Counter" has no remote method "nope"  [attr-defined]',
        'error: Argument 1 to "remote" has incompatible type "str"; expected "int"  [arg-type]',
    ]


def test_pyright_accepts_its_typing_tests() -> None:
    pyright = shutil.which("pyright", path=str(Path(sys.executable).parent))
    if pyright is None:
        pytest.skip("pyright is not installed (pip install -e '.[test]')")
    cmd = [pyright, "--pythonpath", sys.executable, "-p", str(TYPING / "pyrightconfig.json")]
    result = subprocess.run(
        [*cmd, str(TYPING / "check_pyright.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
