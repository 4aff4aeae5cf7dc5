"""A real PostgreSQL server for the tests: Debian's binaries (installed with apt-get when
missing and we are root), a fresh cluster in a temporary directory, listening on a free
loopback port only, stopped at the end of the session.

PostgreSQL refuses to run as root; as root the cluster belongs to the ``postgres`` system user
the package creates, and ``initdb``/``pg_ctl`` run as that user. When no server can be had,
``unavailable_reason`` says exactly why, and the tests that need one are skipped with it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

BINARY_DIRS = "/usr/lib/postgresql/*/bin"
SERVER_USER = "postgres"
START_TIMEOUT_S = 60


class PostgresUnavailable(Exception):
    """No server can be started here; the message says why (it is the tests' skip reason)."""


def _binary_dir() -> Path | None:
    found = sorted(Path("/").glob(BINARY_DIRS.lstrip("/")), key=_major_version)
    usable = [path for path in found if (path / "initdb").exists() and (path / "pg_ctl").exists()]
    return usable[-1] if usable else None


def _major_version(binary_dir: Path) -> int:
    version = binary_dir.parent.name
    return int(version) if version.isdigit() else 0


def _install_with_apt() -> None:
    if os.geteuid() != 0:
        raise PostgresUnavailable(
            f"no PostgreSQL binaries in {BINARY_DIRS} and not root to apt-get install postgresql"
        )
    if shutil.which("apt-get") is None:
        raise PostgresUnavailable(f"no PostgreSQL binaries in {BINARY_DIRS} and no apt-get")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "postgresql"],
    ):
        done = subprocess.run(command, env=environment, capture_output=True, text=True)
        if done.returncode != 0:
            raise PostgresUnavailable(
                f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-300:]}"
            )


def find_binaries() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``, installing the package when missing."""
    binary_dir = _binary_dir()
    if binary_dir is None:
        _install_with_apt()
        binary_dir = _binary_dir()
    if binary_dir is None:
        raise PostgresUnavailable(f"apt-get installed postgresql but {BINARY_DIRS} is empty")
    return binary_dir


def _server_user() -> pwd.struct_passwd | None:
    """Who runs the server: ``postgres`` when we are root, ourselves otherwise (None)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError as error:
        raise PostgresUnavailable(
            f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL as"
        ) from error


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    """One cluster of this session's own."""

    binary_dir: Path
    base_dir: Path
    port: int
    user: pwd.struct_passwd | None

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "server.log"

    @property
    def dsn(self) -> str:
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *arguments: str) -> None:
        owner = {} if self.user is None else {"user": self.user.pw_uid, "group": self.user.pw_gid}
        done = subprocess.run(
            [str(self.binary_dir / program), *arguments],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            cwd=self.base_dir,
            **owner,  # type: ignore[call-overload]
        )
        if done.returncode != 0:
            log = (
                self.log_file.read_text(errors="replace")[-1000:] if self.log_file.exists() else ""
            )
            raise PostgresUnavailable(
                f"{program} {' '.join(arguments)} failed ({done.returncode}): "
                f"{done.stderr.strip()[-500:]} {log}".strip()
            )

    def initialise(self) -> None:
        if self.user is not None:
            os.chown(self.base_dir, self.user.pw_uid, self.user.pw_gid)
        self._run(
            "initdb",
            "--pgdata",
            str(self.data_dir),
            "--username",
            SERVER_USER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C.UTF-8",
            "--locale-provider",
            "icu",
            "--icu-locale",
            "en-US",
            "--no-sync",
        )

    def _server_options(self) -> str:
        return (
            f"-c port={self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories='{self.base_dir}' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )

    def _pg_ctl(self, action: str, *arguments: str) -> None:
        self._run(
            "pg_ctl",
            action,
            "--wait",
            "--pgdata",
            str(self.data_dir),
            "--log",
            str(self.log_file),
            "-o",
            self._server_options(),
            *arguments,
        )

    def start(self) -> None:
        self._pg_ctl("start")

    def restart(self) -> None:
        """Stop the server (dropping every connection) and start it again."""
        self._pg_ctl("restart", "--mode", "fast")

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "--wait", "--mode", "fast", "--pgdata", str(self.data_dir))


def start_postgres() -> PostgresServer:
    """A started server of its own; ``PostgresUnavailable`` when none can be had."""
    binary_dir = find_binaries()
    server = PostgresServer(
        binary_dir=binary_dir,
        base_dir=Path(tempfile.mkdtemp(prefix="readside-postgres-")),
        port=_free_loopback_port(),
        user=_server_user(),
    )
    try:
        server.initialise()
        server.start()
    except BaseException:
        shutil.rmtree(server.base_dir, ignore_errors=True)
        raise
    return server


def remove(server: PostgresServer) -> None:
    try:
        server.stop()
    finally:
        shutil.rmtree(server.base_dir, ignore_errors=True)
