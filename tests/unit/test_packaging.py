"""The wheel, built from what the Dockerfile copies, carries every data file the code reads,
and works installed: from a directory outside the repository, with no PYTHONPATH.

The wheel is built without network (``--no-build-isolation``: the dev extra pins a setuptools
that builds wheels) and installed (``--no-deps``) into a fresh virtualenv. Its dependencies
come from this project's virtualenv through a ``.pth`` file naming its site-packages; a plain
path line does not run that directory's own ``.pth`` files, so the editable install of the
source tree is not picked up. The test checks that ``gateway`` and ``contracts`` are imported
from the new virtualenv, and ``pip check`` that the wheel's declared dependencies are met.
About 10 s (building the wheel, creating the virtualenv)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SCENARIO = ROOT / "tests" / "scenarios" / "issued_alloy_lot.jsonl"
PACKAGES = ("gateway", "consumers", "producers", "contracts")


def dockerfile_build_sources() -> list[str]:
    """The sources the Dockerfile's build stage copies (its COPY lines without ``--from``)."""
    sources: list[str] = []
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources += words[1:-1]
    return sources


def data_files() -> list[str]:
    """Every file in the packages that is not Python: what the code reads at run time."""
    return sorted(
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*")
        if path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts
    )


def run(command: list[str | Path], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, f"{command}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outside")


@pytest.fixture(scope="module")
def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    return env


@pytest.fixture(scope="module")
def wheel(outside: Path, clean_env: dict[str, str]) -> Path:
    """The wheel built from a copy of exactly what the Dockerfile copies."""
    if importlib.util.find_spec("setuptools.command.bdist_wheel") is None:
        pytest.fail("this setuptools cannot build a wheel offline: `make install` (dev extra)")
    sources = outside / "sources"
    sources.mkdir()
    for name in dockerfile_build_sources():
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, sources / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, sources / name)
    wheels = outside / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run(
        [*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels, sources],
        outside,
        clean_env,
    )
    (built,) = wheels.glob("custody_gateway-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, outside: Path, clean_env: dict[str, str]) -> Iterator[Path]:
    """A fresh virtualenv with the wheel installed; its ``bin`` directory."""
    venv = outside / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], outside, clean_env)
    python = venv / "bin" / "python"
    site = Path(
        run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            outside,
            clean_env,
        ).strip()
    )
    ours = [entry for entry in sys.path if entry.endswith("site-packages")]
    (site / "project_dependencies.pth").write_text("".join(f"{entry}\n" for entry in ours))
    pip = [python, "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "install", "-q", "--no-deps", "--no-index", wheel], outside, clean_env)
    yield venv / "bin"


def test_the_dockerfile_copies_the_packages_and_the_project_files() -> None:
    assert set(dockerfile_build_sources()) >= {"pyproject.toml", "README.md", *PACKAGES}


def test_the_wheel_carries_every_data_file(wheel: Path) -> None:
    expected = data_files()
    assert {
        "gateway/rulebook/rulebook.json",
        "gateway/readside/default_values.json",
        "contracts/asyncapi.json",
        "contracts/schemas/parties-file.json",
        "contracts/schemas/cbam-quarterly-report.v1.xsd",
    } <= set(expected)
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in expected if name not in names]
    assert not missing, f"the wheel lacks {missing}: see [tool.setuptools.package-data]"


def test_the_installed_wheel_loads_its_data(
    installed: Path, outside: Path, clean_env: dict[str, str]
) -> None:
    probe = (
        "import json, gateway, contracts\n"
        "from gateway.rulebook.model import BUNDLED_RULEBOOK, load_rulebook\n"
        "from gateway.readside.default_values import bundled_default_values\n"
        "from contracts.asyncapi import ASYNCAPI_FILE\n"
        "from contracts.cbam_report import XML_SCHEMA\n"
        "bundled_default_values()\n"
        "print(json.dumps({'packages': [gateway.__file__, contracts.__file__],\n"
        "  'rulebook': str(BUNDLED_RULEBOOK), 'version': load_rulebook().version,\n"
        "  'asyncapi': json.loads(ASYNCAPI_FILE.read_text())['asyncapi'],\n"
        "  'xsd': XML_SCHEMA.read_text()[:5]}))\n"
    )
    found = json.loads(run([installed / "python", "-c", probe], outside, clean_env))
    venv = str(installed.parent)
    assert all(path.startswith(venv) for path in [*found["packages"], found["rulebook"]]), found
    assert found["version"] == "2026.1"
    assert found["asyncapi"].startswith("3.")
    assert found["xsd"] == "<?xml"
    run([installed / "python", "-m", "pip", "check"], outside, clean_env)


def test_the_installed_console_commands_work(
    installed: Path, outside: Path, clean_env: dict[str, str]
) -> None:
    gateway = installed / "gateway"
    assert "usage: gateway run" in run([gateway, "run", "--help"], outside, clean_env)
    assert "up to date" in run([gateway, "schemas", "--check"], outside, clean_env)
    lots = outside / "lots.jsonl"
    shutil.copyfile(SCENARIO, lots)
    out = run([gateway, "check", lots.name, "--now", "2026-03-01T00:00:00Z"], outside, clean_env)
    records = [json.loads(line) for line in out.splitlines()]
    # Published records only: a preview (like an error) has no top-level type.
    decisions = [record["type"] for record in records if "type" in record]
    assert [record["preview"]["type"] for record in records if "preview" in record] == [
        "custody.warrant.issued"
    ]
    assert decisions[-2:] == ["custody.warrant.issued", "custody.warrant.state-changed"], out
