"""A real Apache Kafka broker on loopback, without Docker.

The broker's jars come from Maven Central through Maven into a cache outside the work tree;
a single combined KRaft node (broker and controller) is formatted and started on free
loopback ports. Everything the node writes (properties, data, log, pid file) lives in one
run directory, so ``status`` and ``stop`` work from any later process.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from gateway.runtime.settings import Settings

STARTED_MARKER = "Kafka Server started"
_VERSION_LINE = re.compile(r"Kafka version: (\S+)")
# Every JVM started here carries this property, so a leftover process can be recognised.
PROCESS_TAG = "-Dcustody.gateway.broker="

_SLF4J_RELOAD4J = ("org.slf4j", "slf4j-reload4j", "1.7.36")
_LOG4J2_VERSION = "2.24.3"


class BrokerError(RuntimeError):
    """The local broker could not be fetched, started or stopped; the text says why."""


@dataclass(frozen=True)
class BrokerInfo:
    """Where a running broker listens and what it is."""

    bootstrap_servers: str
    version: str
    pid: int | None = None
    run_dir: str | None = None
    controller_port: int | None = None
    started_in_s: float | None = None

    def describe(self) -> str:
        started = f" (started in {self.started_in_s} s)" if self.started_in_s is not None else ""
        where = f", pid {self.pid}, data in {self.run_dir}" if self.pid else ""
        return f"Apache Kafka {self.version} at {self.bootstrap_servers}{started}{where}"


@dataclass(frozen=True)
class LocalKafka:
    """One local broker: its version, where its jars are cached and where it runs."""

    version: str
    cache_dir: Path
    run_dir: Path
    heap: str = "-Xms256m -Xmx1g"
    start_timeout_s: float = 120.0

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalKafka:
        return cls(
            version=settings.kafka_version,
            cache_dir=settings.cache_dir,
            run_dir=settings.run_dir,
            heap=settings.kafka_heap,
            start_timeout_s=settings.broker_start_timeout_s,
        )

    # ---- jars -------------------------------------------------------------------------

    @property
    def libs_dir(self) -> Path:
        return self.cache_dir / f"kafka-{self.version}" / "libs"

    def ensure_jars(self, log: Callable[[str], None] = print) -> Path:
        """Resolve the broker's runtime classpath with Maven, once per version."""
        libs = self.libs_dir
        if (libs / ".complete").exists():
            return libs
        mvn = _require_tool("mvn", "Maven 3")
        _require_tool("java", "Java 17")
        workdir = libs.parent
        workdir.mkdir(parents=True, exist_ok=True)
        pom = workdir / "pom.xml"
        pom.write_text(_classpath_pom(self.version), encoding="utf-8")
        staging = workdir / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        log(f"fetching Apache Kafka {self.version} jars from Maven Central into {libs} ...")
        result = subprocess.run(
            [
                mvn,
                "-B",
                "-q",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            tail = (result.stdout + result.stderr)[-3000:]
            raise BrokerError(f"Maven could not resolve kafka_2.13:{self.version}:\n{tail}")
        if not any(staging.glob(f"kafka_2.13-{self.version}.jar")):
            raise BrokerError(f"Maven ran but kafka_2.13-{self.version}.jar is not in {staging}")
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        (libs / ".complete").write_text(self.version, encoding="utf-8")
        return libs

    # ---- lifecycle --------------------------------------------------------------------

    @property
    def _state_file(self) -> Path:
        return self.run_dir / "broker.json"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "broker.log"

    def broker_for(self, settings: Settings) -> tuple[BrokerInfo, bool]:
        """The broker a command should use, and whether it was started for it: the one of
        ``KAFKA_BOOTSTRAP_SERVERS``, else the running local one, else a new local one."""
        if settings.kafka_bootstrap_servers:
            return BrokerInfo(settings.kafka_bootstrap_servers, version="(external)"), False
        running = self.status()
        if running is not None:
            return running, False
        return self.start(), True

    def status(self) -> BrokerInfo | None:
        """The running broker of this run directory, or None (a stale pid file is removed)."""
        try:
            info = BrokerInfo(**json.loads(self._state_file.read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError, TypeError):
            return None
        if info.pid is not None and _is_our_broker(info.pid, self.run_dir):
            return info
        self._state_file.unlink(missing_ok=True)
        return None

    def start(
        self, *, die_with_parent: bool = False, log: Callable[[str], None] = print
    ) -> BrokerInfo:
        """Start the broker (or return the one already running) and wait until it serves."""
        running = self.status()
        if running is not None:
            return running
        began = time.monotonic()
        libs = self.ensure_jars(log)
        java = _require_tool("java", "Java 17")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        run_dir = self.run_dir.resolve()
        client_port, controller_port = self._ports()
        properties = run_dir / "server.properties"
        properties.write_text(
            _server_properties(run_dir / "data", client_port, controller_port), encoding="utf-8"
        )
        logging_option = self._write_logging_config(run_dir)
        classpath = f"{libs}/*"
        self._format_storage(java, classpath, properties, logging_option)

        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        log_handle = self.log_file.open("ab")
        try:
            process = subprocess.Popen(
                [
                    java,
                    *self.heap.split(),
                    "-Djava.awt.headless=true",
                    logging_option,
                    f"{PROCESS_TAG}{run_dir}",
                    "-cp",
                    classpath,
                    "kafka.Kafka",
                    str(properties),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log_handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if die_with_parent else None,
            )
        finally:
            log_handle.close()
        try:
            version = self._wait_until_serving(process, client_port, log_offset)
        except BaseException:
            _terminate(process.pid, run_dir, timeout_s=10)
            raise
        info = BrokerInfo(
            bootstrap_servers=f"127.0.0.1:{client_port}",
            version=version,
            pid=process.pid,
            run_dir=str(run_dir),
            controller_port=controller_port,
            started_in_s=round(time.monotonic() - began, 1),
        )
        self._state_file.write_text(json.dumps(asdict(info), indent=2), encoding="utf-8")
        return info

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop the broker cleanly (SIGTERM, then SIGKILL); True if one was running."""
        info = self.status()
        if info is None or info.pid is None:
            return False
        _terminate(info.pid, self.run_dir.resolve(), timeout_s=timeout_s)
        self._state_file.unlink(missing_ok=True)
        return True

    # ---- internals --------------------------------------------------------------------

    def _ports(self) -> tuple[int, int]:
        """Reuse the ports of the last start (the KRaft voter address is stored with the
        data), unless they have been taken meanwhile."""
        ports_file = self.run_dir / "ports.json"
        with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
            saved = json.loads(ports_file.read_text(encoding="utf-8"))
            client, controller = int(saved["client"]), int(saved["controller"])
            if _port_is_free(client) and _port_is_free(controller):
                return client, controller
        client, controller = _free_port(), _free_port()
        while controller == client:
            controller = _free_port()
        ports_file.write_text(json.dumps({"client": client, "controller": controller}))
        return client, controller

    def _write_logging_config(self, run_dir: Path) -> str:
        if _major(self.version) >= 4:
            config = run_dir / "log4j2.properties"
            config.write_text(_LOG4J2_CONFIG, encoding="utf-8")
            return f"-Dlog4j2.configurationFile={config}"
        config = run_dir / "log4j.properties"
        config.write_text(_LOG4J1_CONFIG, encoding="utf-8")
        return f"-Dlog4j.configuration=file:{config}"

    def _format_storage(
        self, java: str, classpath: str, properties: Path, logging_option: str
    ) -> None:
        if (self.run_dir / "data" / "meta.properties").exists():
            return
        result = subprocess.run(
            [
                java,
                "-Xmx256m",
                logging_option,
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                new_cluster_id(),
                "-c",
                str(properties),
                "--ignore-formatted",
            ],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if result.returncode != 0:
            raise BrokerError(f"formatting the KRaft store failed:\n{result.stdout}{result.stderr}")

    def _wait_until_serving(
        self, process: subprocess.Popen[bytes], port: int, log_offset: int
    ) -> str:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            with self.log_file.open("rb") as log:
                log.seek(log_offset)
                text = log.read().decode("utf-8", errors="replace")
            if process.poll() is not None:
                raise BrokerError(
                    f"the broker exited with status {process.returncode} while starting; "
                    f"end of {self.log_file}:\n{text[-3000:]}"
                )
            if STARTED_MARKER in text and _accepts_connections(port):
                versions = _VERSION_LINE.findall(text)
                return versions[-1] if versions else self.version
            time.sleep(0.2)
        raise BrokerError(
            f"the broker did not start within {self.start_timeout_s:.0f} s; see {self.log_file}"
        )


def leftover_brokers(run_dir: Path | None = None) -> list[int]:
    """Pids of broker JVMs started by this project (for one run directory, if given)."""
    wanted = f"{PROCESS_TAG}{run_dir.resolve()}" if run_dir is not None else PROCESS_TAG
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        tags = [a.decode(errors="replace") for a in arguments if a.startswith(PROCESS_TAG.encode())]
        matches = tags if run_dir is None else [t for t in tags if t == wanted]
        if matches and _is_alive(int(entry.name)):
            pids.append(int(entry.name))
    return pids


# ---- helpers ----------------------------------------------------------------------------


def _require_tool(name: str, what: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BrokerError(
            f"{what} is needed to run the local broker and `{name}` is not on PATH "
            "(on Debian: apt-get install -y openjdk-17-jre-headless maven)"
        )
    return path


def _major(version: str) -> int:
    return int(version.split(".", 1)[0])


def _classpath_pom(version: str) -> str:
    if _major(version) >= 4:
        logging_backend = [
            ("org.apache.logging.log4j", "log4j-slf4j-impl", _LOG4J2_VERSION),
            ("org.apache.logging.log4j", "log4j-core", _LOG4J2_VERSION),
        ]
    else:
        logging_backend = [_SLF4J_RELOAD4J]
    dependencies = [("org.apache.kafka", "kafka_2.13", version), *logging_backend]
    rendered = "\n".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>"
        for g, a, v in dependencies
    )
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.custody-gateway</groupId>
  <artifactId>kafka-broker-classpath</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
{rendered}
  </dependencies>
</project>
"""


def _server_properties(data_dir: Path, client_port: int, controller_port: int) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{client_port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{client_port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        # Topics come from the topic catalogue; a typo in a topic name must fail loudly.
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "min.insync.replicas": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.cleaner.backoff.ms": "1000",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


_LOG4J1_CONFIG = """\
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.org.apache.kafka.common.utils.AppInfoParser=INFO
"""

_LOG4J2_CONFIG = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = STDOUT
logger.raft.name = kafka.server.KafkaRaftServer
logger.raft.level = info
logger.appinfo.name = org.apache.kafka.common.utils.AppInfoParser
logger.appinfo.level = info
"""


def new_cluster_id() -> str:
    """A Kafka cluster id: a UUID as unpadded URL-safe base64, never starting with "-"
    (the storage tool would read such an id as an option)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _is_our_broker(pid: int, run_dir: Path) -> bool:
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    tag = f"{PROCESS_TAG}{run_dir.resolve()}".encode()
    return tag in arguments and _is_alive(pid)


def _terminate(pid: int, run_dir: Path, timeout_s: float) -> None:
    if not _is_our_broker(pid, run_dir):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap(pid)
        if not _is_alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    while _is_alive(pid):
        _reap(pid)
        time.sleep(0.05)


def _reap(pid: int) -> None:
    # Only the process that started the broker can (and must) collect its exit status.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGKILL it when its parent dies."""
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
