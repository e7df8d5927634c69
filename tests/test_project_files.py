"""The project's front files say true things: the README's two commands are the ones CI runs,
its two programs print what their comments say, every relative link in the Markdown resolves,
and the version is written once."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

import actorio

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARKDOWN = [
    README,
    ROOT / "CHANGELOG.md",
    ROOT / "CONTRIBUTING.md",
    *sorted(ROOT.glob("docs/*.md")),
]

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$", re.MULTILINE)


def _blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang == language]


def readme_commands() -> list[str]:
    """The shell lines of the README's first code block: the newcomer's two commands."""
    first = FENCE.search(README.read_text())
    assert first is not None, "the README opens with a code block"
    assert first.group(1) == "bash", "the README opens with a bash block"
    return [line for line in first.group(2).splitlines() if line.strip()]


def test_the_readme_opens_with_two_commands_an_example_and_the_tests() -> None:
    example, tests = readme_commands()
    assert "pip install -q -e . " in example
    assert "examples/" in example
    assert "'.[test]'" in tests
    assert tests.endswith("-m pytest")


def test_ci_runs_the_readmes_two_commands_verbatim() -> None:
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    for command in readme_commands():
        assert command in ci_lines, f".ci/run does not run the README's command: {command}"


def _expected_lines(program: str) -> list[str]:
    """What each ``print(...)  # expected: why`` line of a README program says it prints."""
    expected = []
    for line in program.splitlines():
        if line.lstrip().startswith("print(") and "  # " in line:
            comment = line.split("  # ", 1)[1]
            expected.append(comment.split(": ", 1)[0] if ": " in comment else comment)
    return expected


@pytest.mark.parametrize(
    ("index", "backend"),
    [(0, "local"), (0, "process"), (1, "local")],
    ids=["sync", "sync-process", "async"],
)
def test_the_readmes_programs_print_what_they_say(index: int, backend: str) -> None:
    program = _blocks(README.read_text(), "python")[index]
    expected = _expected_lines(program)
    assert len(expected) >= 2, "each README program states its output"
    env = {**os.environ, "ACTORIO_BACKEND": backend}
    done = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == expected


def _slug(heading: str) -> str:
    """The anchor MkDocs (Python-Markdown's toc) gives a heading; GitHub's agrees for ours."""
    explicit = re.search(r"\{#([\w-]+)\}\s*$", heading)
    if explicit:
        return explicit.group(1)
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text())  # links inside code blocks are code
    text = re.sub(r"`[^`\n]*`", "", text)
    return LINK.findall(text)


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    broken = []
    for target in _links(path):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            broken.append(f"{target} (no file {resolved.relative_to(ROOT)})")
        elif anchor and resolved.suffix == ".md":
            anchors = {_slug(h) for h in HEADING.findall(FENCE.sub("", resolved.read_text()))}
            if anchor not in anchors:
                broken.append(f"{target} (no heading #{anchor} in {resolved.name})")
    assert not broken, f"{path.name}: broken links: {broken}"


def test_the_link_check_catches_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [bad](#nope) `[code](nowhere.md)`\n")
    assert _links(page) == ["#title", "#nope"]
    assert _slug('Worker processes (`backend="process"`)') == "worker-processes-backendprocess"


def test_the_version_is_written_once() -> None:
    assert actorio.__version__ == importlib.metadata.version("actorio")
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert re.search(r'^version\s*=\s*"', pyproject, re.MULTILINE) is None  # no second copy
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{actorio.__version__}]" in changelog


def test_the_license_is_the_apache_2_text() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()
