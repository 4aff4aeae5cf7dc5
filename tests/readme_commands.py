"""The commands the README shows, as a user would copy them, and a way to run one.

A shown command is a line of a ``sh`` block (a trailing ``\\`` joins the next line; a
``#`` after a blank starts a comment) or a ``$ `` line of a ``console`` block. The tests
that run them take their text from here, so that what runs is what the README says.

Running a line: ``bash -c`` with the test interpreter's ``bin`` first on ``PATH`` (the
README's bare ``gateway``), and, in a directory other than the repository's, ``.venv``,
``tests``, the ``Makefile`` and ``pyproject.toml`` linked there (the README's
``.venv/bin/...``, ``tests/scenarios/...`` and ``make`` targets, with the user's files beside
them).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
README = REPOSITORY / "README.md"
VENV_BIN = Path(sys.executable).parent

_FENCE = re.compile(r"^```(\w*)\s*$")
_COMMENT = re.compile(r"\s+#\s.*$")


def shown_commands(text: str | None = None) -> list[str]:
    """Every command of the README's ``sh`` and ``console`` blocks, in order, once each."""
    lines = (README.read_text(encoding="utf-8") if text is None else text).splitlines()
    commands: list[str] = []
    language: str | None = None
    pending = ""
    for line in lines:
        fence = _FENCE.match(line)
        if fence:
            language = None if language is not None else fence.group(1)
            continue
        if language == "sh":
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1].strip() + " "
                continue
            command = _COMMENT.sub("", pending + line.strip()).strip()
            pending = ""
            if command and not command.startswith("#"):
                commands.append(command)
        elif language == "console" and line.startswith("$ "):
            commands.append(line[2:].strip())
    return list(dict.fromkeys(commands))


def readme_command(prefix: str) -> str:
    """The one shown command that is ``prefix`` or starts with it and a blank."""
    found = [command for command in shown_commands() if starts_with(command, prefix)]
    assert len(found) == 1, (prefix, found)
    return found[0]


def starts_with(command: str, prefix: str) -> bool:
    return command == prefix or command.startswith(prefix + " ")


def make_is_installed() -> bool:
    """Whether ``make install`` has run in the repository since its inputs last changed (a
    make target then runs as the README says, without installing anything)."""
    installed = REPOSITORY / ".venv" / ".installed"
    inputs = (REPOSITORY / "pyproject.toml", REPOSITORY / "tests" / "browser" / "package-lock.json")
    return installed.exists() and all(
        installed.stat().st_mtime >= path.stat().st_mtime for path in inputs
    )


def run_line(
    line: str,
    *,
    cwd: Path = REPOSITORY,
    environment: Mapping[str, str] | None = None,
    timeout_s: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run a README line in bash as a user would, in ``cwd``, with ``environment`` (the
    process's own when None); its output captured."""
    return subprocess.run(
        ["bash", "-c", line],
        cwd=cwd,
        env=shell_environment(cwd, environment),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@contextlib.contextmanager
def running_line(
    line: str, *, cwd: Path = REPOSITORY, environment: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[str]]:
    """A README line that runs until stopped, started (``exec``: a signal reaches it), and
    killed at the end of the block if still running."""
    process = subprocess.Popen(
        ["bash", "-c", f"exec {line}"],
        cwd=cwd,
        env=shell_environment(cwd, environment),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def stopped_by_sigterm(process: subprocess.Popen[str], timeout_s: float = 60) -> str:
    """SIGTERM ends ``process`` with status 0; what it wrote to stderr."""
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=timeout_s)
    assert process.returncode == 0, err[-3000:]
    return err


def shell_environment(cwd: Path, environment: Mapping[str, str] | None) -> dict[str, str]:
    if cwd.resolve() != REPOSITORY:
        for name, target in (
            (".venv", VENV_BIN.parent),
            ("tests", REPOSITORY / "tests"),
            ("Makefile", REPOSITORY / "Makefile"),
            ("pyproject.toml", REPOSITORY / "pyproject.toml"),
        ):
            link = cwd / name
            if not link.exists():
                link.symlink_to(target, target_is_directory=target.is_dir())
    path = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**(os.environ if environment is None else environment), "PATH": path}
