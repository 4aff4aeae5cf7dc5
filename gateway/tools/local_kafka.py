"""A real Apache Kafka broker on loopback, without Docker.

The broker's jars come from Maven Central through Maven into a cache outside the work tree;
a single combined KRaft node (broker and controller) is formatted and started on loopback.
Everything the node writes (properties, data, log, pid file, ``ports.json``) lives in one
run directory, so ``status``, ``stop`` and ``kill`` work from any later process.

A broker keeps its address: the ports chosen at its first start are saved in ``ports.json``
and reused by every later start, after ``stop`` as after a SIGKILL, together with the data
directory. Clients that kept the bootstrap address find the broker again by themselves.

A broker can be started secured (:class:`ListenerSecurity`, made by
``gateway.tools.secured_kafka``): SASL/SCRAM on the client listener, with TLS or not, and
the ``StandardAuthorizer`` denying whatever no ACL allows. The run directory then records
that it is secured (``security.json``), and a start without security refuses it.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import enum
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from gateway.runtime.settings import Settings

STARTED_MARKER = "Kafka Server started"
_VERSION_LINE = re.compile(r"Kafka version: (\S+)")
# Every JVM started here carries this property, so a leftover process can be recognised.
PROCESS_TAG = "-Dcustody.gateway.broker="

_SLF4J_RELOAD4J = ("org.slf4j", "slf4j-reload4j", "1.7.36")
_LOG4J2_VERSION = "2.24.3"

# New ports are drawn from here up to the start of the kernel's ephemeral range.
_NEW_PORTS_FROM = 20000
_NEW_PORT_ATTEMPTS = 200
# How long a SIGKILLed broker may take to disappear before kill() gives up.
_KILL_WAIT_S = 10.0

# Linux sends the parent-death signal when the *thread* that forked the child ends, not when
# the process does. Every broker is therefore forked from this one thread, which lives as long
# as the Python process: ``die_with_parent`` then means "dies with this process", whichever
# thread called start() (asyncio.to_thread workers, for one, end with their event loop).
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-kafka-spawner")


class BrokerError(RuntimeError):
    """The local broker could not be fetched, started or stopped; the text says why."""


class SecurityMismatchError(BrokerError):
    """The run directory holds a secured broker and the start is not secured, or the other
    way round."""


@dataclass(frozen=True)
class ListenerSecurity:
    """How a secured broker's client listener authenticates and encrypts.

    SCRAM is not supported on the KRaft controller listener, so the controller listener stays
    PLAINTEXT and its principal, ``User:ANONYMOUS``, is a super user (the broker reaches its
    own controller through it). Anyone who can connect to the controller port is therefore
    all-powerful: it listens on 127.0.0.1 only, so only processes on this machine reach it.
    Each principal's password is given to the storage tool at format time (visible to local
    users in the process list for that second); ``server.properties`` holds the admin's and is
    made readable by its owner only.
    """

    admin: str
    admin_password: str
    scram_users: Mapping[str, str]
    """Every principal's password (the admin's too), created when the storage is formatted."""
    tls_key_and_chain: Path | None = None
    """With TLS: a PEM file with the server's unencrypted PKCS#8 key and its certificate."""
    tls_ca: Path | None = None
    mechanism: str = "SCRAM-SHA-512"
    notes: Mapping[str, object] = field(default_factory=dict)
    """More for ``security.json`` (no secret): the gateway's principal, the parties file."""

    @property
    def protocol(self) -> str:
        return "SASL_SSL" if self.tls_key_and_chain is not None else "SASL_PLAINTEXT"

    def record(self) -> dict[str, object]:
        """What ``security.json`` says: no secret."""
        return {
            "protocol": self.protocol,
            "mechanism": self.mechanism,
            "admin": self.admin,
            **self.notes,
        }


class SavedPortTakenError(BrokerError):
    """A port saved in ``ports.json`` is held by another live socket, so the broker cannot
    come back at its old address."""

    def __init__(self, role: str, port: int, ports_file: Path) -> None:
        super().__init__(
            f"the broker's {role} port {port} (saved in {ports_file}) is held by another "
            f"process, so the broker cannot come back at its old address. See who holds it "
            f"with `ss -tanp 'sport = :{port}'` and end that process, or delete {ports_file} "
            "to start on new ports (clients must then be given the new bootstrap address)."
        )
        self.role = role
        self.port = port


@dataclass(frozen=True)
class BrokerInfo:
    """Where a running broker listens and what it is."""

    bootstrap_servers: str
    version: str
    pid: int | None = None
    run_dir: str | None = None
    controller_port: int | None = None
    started_in_s: float | None = None
    security_protocol: str = "PLAINTEXT"

    def describe(self) -> str:
        started = f" (started in {self.started_in_s} s)" if self.started_in_s is not None else ""
        where = f", pid {self.pid}, data in {self.run_dir}" if self.pid else ""
        secured = (
            f", secured: {self.security_protocol} SCRAM, ACLs enforced"
            if self.security_protocol != "PLAINTEXT"
            else ""
        )
        return f"Apache Kafka {self.version} at {self.bootstrap_servers}{started}{where}{secured}"


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

    @property
    def security_file(self) -> Path:
        """Present when this run directory's broker is secured (no secret in it)."""
        return self.run_dir / "security.json"

    def recorded_security(self) -> dict[str, object] | None:
        try:
            recorded: dict[str, object] = json.loads(self.security_file.read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        return recorded

    @property
    def ports_file(self) -> Path:
        """The client and controller ports of this run directory, kept for every start."""
        return self.run_dir / "ports.json"

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
        info = self._recorded()
        if info is None:
            return None
        if info.pid is not None and _is_our_broker(info.pid, self.run_dir):
            return info
        self._state_file.unlink(missing_ok=True)
        return None

    def _recorded(self) -> BrokerInfo | None:
        """What the pid file says, whether or not that broker still runs."""
        try:
            return BrokerInfo(**json.loads(self._state_file.read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def start(
        self,
        *,
        die_with_parent: bool = False,
        log: Callable[[str], None] = print,
        security: ListenerSecurity | None = None,
    ) -> BrokerInfo:
        """Start the broker (or return the one already running) and wait until it serves.

        A broker that ran here before comes back on its saved ports with its data, whether
        it was stopped or killed; a JVM killed a moment ago by someone else is waited for
        until it has released its ports (tens of ms). With ``security``, the client listener
        is SASL/SCRAM (see :class:`ListenerSecurity`); a run directory secured before refuses
        a start without it, and one holding an open broker's data refuses a secured start
        (:class:`SecurityMismatchError`). If a saved port is held by
        another live socket, this raises :class:`SavedPortTakenError` rather than moving to
        new ports: clients that kept the old address would never find a moved broker, so a
        start that looks successful would be worse than a clear error.

        With ``die_with_parent``, Linux SIGKILLs the JVM when this Python process ends, even
        by SIGKILL; the JVM is forked from a thread that lives as long as the process, so the
        calling thread may end first.
        """
        self._check_security(security)
        recorded = self._recorded()
        running = self.status()
        if running is not None:
            return running
        if recorded is not None and recorded.pid is not None:
            _wait_while_dying(recorded.pid)
        began = time.monotonic()
        libs = self.ensure_jars(log)
        java = _require_tool("java", "Java 17")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        run_dir = self.run_dir.resolve()
        client_port, controller_port = self._ports()
        properties = run_dir / "server.properties"
        properties.touch(mode=0o600)
        properties.chmod(0o600)
        properties.write_text(
            _server_properties(run_dir / "data", client_port, controller_port, security),
            encoding="utf-8",
        )
        logging_option = self._write_logging_config(run_dir)
        classpath = f"{libs}/*"
        self._format_storage(java, classpath, properties, logging_option, security)
        if security is not None:
            self.security_file.write_text(json.dumps(security.record(), indent=2), "utf-8")

        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        log_handle = self.log_file.open("ab")
        try:
            process = _spawn(
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
                log_handle,
                die_with_parent=die_with_parent,
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
            security_protocol=security.protocol if security is not None else "PLAINTEXT",
        )
        self._state_file.write_text(json.dumps(asdict(info), indent=2), encoding="utf-8")
        return info

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop the broker cleanly (SIGTERM, then SIGKILL after ``timeout_s``); True if one
        was running. Its data and ``ports.json`` stay for the next start."""
        info = self.status()
        if info is None or info.pid is None:
            return False
        _terminate(info.pid, self.run_dir.resolve(), timeout_s=timeout_s)
        self._state_file.unlink(missing_ok=True)
        return True

    def kill(self) -> bool:
        """SIGKILL the broker's process group and wait until the JVM is gone (threads ended,
        sockets closed), as a crash would leave it: the data, ``ports.json`` and the stale
        pid file stay, and the next :meth:`start` recovers the log and comes back at the same
        address. That start takes ~15 s here rather than ~3 s: the controller refuses the new
        incarnation until the killed one's session (broker.session.timeout.ms, 9 s) expires.
        True if a broker was running."""
        info = self.status()
        if info is None or info.pid is None:
            return False
        _kill_and_wait(info.pid)
        return True

    def restart(
        self,
        *,
        die_with_parent: bool = False,
        stop_timeout_s: float = 30.0,
        log: Callable[[str], None] = print,
        security: ListenerSecurity | None = None,
    ) -> BrokerInfo:
        """Stop the broker (if one runs) and start it again at the same address with the
        same data; raises like :meth:`start` if a saved port was taken meanwhile."""
        self.stop(timeout_s=stop_timeout_s)
        return self.start(die_with_parent=die_with_parent, log=log, security=security)

    # ---- internals --------------------------------------------------------------------

    def _check_security(self, security: ListenerSecurity | None) -> None:
        recorded = self.recorded_security()
        formatted = (self.run_dir / "data" / "meta.properties").exists()
        if security is None and recorded is not None:
            raise SecurityMismatchError(
                f"the broker in {self.run_dir} is secured ({recorded.get('protocol')} SCRAM, "
                "ACLs enforced): start it with `gateway kafka up --secure` (add --tls if it "
                "was set up with TLS), or use another GATEWAY_RUN_DIR for an open broker"
            )
        if security is not None and recorded is None and formatted:
            raise SecurityMismatchError(
                f"the broker in {self.run_dir} was set up open (PLAINTEXT, no ACLs): a secured "
                "broker needs a run directory of its own (set GATEWAY_RUN_DIR to a new one, "
                f"or delete {self.run_dir})"
            )
        if (
            security is not None
            and recorded is not None
            and recorded.get("protocol") != security.protocol
        ):
            raise SecurityMismatchError(
                f"the broker in {self.run_dir} was set up with {recorded.get('protocol')}, "
                f"not {security.protocol}: start it as it was set up (with or without --tls)"
            )

    def _ports(self) -> tuple[int, int]:
        """The client and controller ports: those saved by an earlier start, else two new
        ones, saved. Raises :class:`SavedPortTakenError` if a saved port is held by another
        live socket (TIME_WAIT leftovers of the last run do not count)."""
        saved = self._saved_ports()
        if saved is None:
            client = _new_port()
            controller = _new_port(excluding=client)
            self.ports_file.write_text(json.dumps({"client": client, "controller": controller}))
            return client, controller
        for role, port in zip(("client", "controller"), saved, strict=True):
            if not _port_is_free(port):
                raise SavedPortTakenError(role, port, self.ports_file)
        return saved

    def _saved_ports(self) -> tuple[int, int] | None:
        try:
            saved = json.loads(self.ports_file.read_text(encoding="utf-8"))
            return int(saved["client"]), int(saved["controller"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def _write_logging_config(self, run_dir: Path) -> str:
        if _major(self.version) >= 4:
            config = run_dir / "log4j2.properties"
            config.write_text(_LOG4J2_CONFIG, encoding="utf-8")
            return f"-Dlog4j2.configurationFile={config}"
        config = run_dir / "log4j.properties"
        config.write_text(_LOG4J1_CONFIG, encoding="utf-8")
        return f"-Dlog4j.configuration=file:{config}"

    def _format_storage(
        self,
        java: str,
        classpath: str,
        properties: Path,
        logging_option: str,
        security: ListenerSecurity | None = None,
    ) -> None:
        if (self.run_dir / "data" / "meta.properties").exists():
            return
        scram: list[str] = []
        if security is not None:
            for name, password in security.scram_users.items():
                scram += ["--add-scram", f"{security.mechanism}=[name={name},password={password}]"]
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
                *scram,
            ],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if result.returncode != 0:
            output = result.stdout + result.stderr
            for password in security.scram_users.values() if security is not None else ():
                output = output.replace(password, "***")
            raise BrokerError(f"formatting the KRaft store failed:\n{output}")

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


def _server_properties(
    data_dir: Path,
    client_port: int,
    controller_port: int,
    security: ListenerSecurity | None = None,
) -> str:
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
    if security is not None:
        settings.update(_secured_listener(client_port, controller_port, security))
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _secured_listener(
    client_port: int, controller_port: int, security: ListenerSecurity
) -> dict[str, str]:
    """The client listener as SASL_PLAINTEXT or SASL_SSL with SCRAM, the broker talking to
    itself over it as the admin, and the authorizer denying what no ACL allows."""
    protocol = security.protocol
    listener = protocol.lower()
    mechanism = security.mechanism.lower()
    settings = {
        "listeners": f"{protocol}://127.0.0.1:{client_port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"{protocol}://127.0.0.1:{client_port}",
        "listener.security.protocol.map": f"{protocol}:{protocol},CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": protocol,
        "sasl.enabled.mechanisms": security.mechanism,
        "sasl.mechanism.inter.broker.protocol": security.mechanism,
        f"listener.name.{listener}.sasl.enabled.mechanisms": security.mechanism,
        f"listener.name.{listener}.{mechanism}.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{security.admin}" password="{security.admin_password}";'
        ),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{security.admin};User:ANONYMOUS",
    }
    if security.tls_key_and_chain is not None:
        settings.update(
            {
                f"listener.name.{listener}.ssl.keystore.type": "PEM",
                f"listener.name.{listener}.ssl.keystore.location": str(security.tls_key_and_chain),
                f"listener.name.{listener}.ssl.truststore.type": "PEM",
                f"listener.name.{listener}.ssl.truststore.location": str(security.tls_ca),
            }
        )
    return settings


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


def _new_port(excluding: int | None = None) -> int:
    """A port for a broker that has none yet: one with no socket at all on it (not even in
    TIME_WAIT, so a port another broker just left is not taken over), drawn below the
    kernel's ephemeral range so that no outgoing connection can be given it as its local
    port while the broker is down. Falls back to a port the kernel picks."""
    first_ephemeral, _ = _ephemeral_port_range()
    candidates = range(_NEW_PORTS_FROM, first_ephemeral)
    for port in random.sample(candidates, min(len(candidates), _NEW_PORT_ATTEMPTS)):
        if port != excluding and _port_is_unused(port):
            return port
    port = _kernel_chosen_port()
    while port == excluding:
        port = _kernel_chosen_port()
    return port


def _ephemeral_port_range() -> tuple[int, int]:
    """The ports Linux hands to outgoing connections (ip_local_port_range)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _kernel_chosen_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _port_is_free(port: int) -> bool:
    """Whether the broker can listen on ``127.0.0.1:port`` now. The probe binds with
    SO_REUSEADDR, as the JVM's server sockets do: connections of a stopped broker left in
    TIME_WAIT do not block it; a live listener, or any other socket bound there without
    SO_REUSEADDR (a client connection given that port, for one), does."""
    return _can_bind(port, reuse_address=True)


def _port_is_unused(port: int) -> bool:
    """Whether no socket at all is on ``127.0.0.1:port``, TIME_WAIT included (the probe
    binds without SO_REUSEADDR)."""
    return _can_bind(port, reuse_address=False)


def _can_bind(port: int, *, reuse_address: bool) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if reuse_address:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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


class _Life(enum.Enum):
    """Where a process is between running and gone, as /proc shows it."""

    RUNNING = "running"
    # SIGKILL pending or exit begun. Measured here: a SIGKILLed broker JVM's main thread is a
    # zombie within ~10 ms, while its other threads and its listening socket last up to
    # ~50 ms more; its command line reads empty from the start of the exit.
    DYING = "dying"
    # No such process, or only its zombie is left: every thread ended, every socket closed.
    GONE = "gone"


_PF_EXITING = 0x4  # /proc/<pid>/stat flags: the task has begun to exit
_SIGKILL_MASK = 1 << (signal.SIGKILL - 1)


def _life_of(pid: int) -> _Life:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
        state, flags, threads = stat[0], int(stat[6]), int(status["Threads"])
        pending = int(status["SigPnd"], 16) | int(status["ShdPnd"], 16)
    except (OSError, IndexError, KeyError, ValueError):
        return _Life.GONE
    zombie = state in ("Z", "X")
    if zombie and threads <= 1:
        return _Life.GONE
    if zombie or flags & _PF_EXITING or pending & _SIGKILL_MASK:
        return _Life.DYING
    return _Life.RUNNING


def _is_alive(pid: int) -> bool:
    """Whether the process still holds anything (threads, sockets): running or dying."""
    return _life_of(pid) is not _Life.GONE


def _is_our_broker(pid: int, run_dir: Path) -> bool:
    """Whether ``pid`` is a running (not dying) broker JVM of this run directory."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    tag = f"{PROCESS_TAG}{run_dir.resolve()}".encode()
    return tag in arguments and _life_of(pid) is _Life.RUNNING


def _wait_while_dying(pid: int) -> None:
    """Wait until a broker killed by someone else has released its ports."""
    deadline = time.monotonic() + _KILL_WAIT_S
    while _life_of(pid) is _Life.DYING:
        if time.monotonic() > deadline:
            raise BrokerError(
                f"the killed broker (pid {pid}) is still exiting after {_KILL_WAIT_S} s"
            )
        _reap(pid)
        time.sleep(0.01)


def _spawn(
    command: list[str], log_handle: BinaryIO, *, die_with_parent: bool
) -> subprocess.Popen[bytes]:
    """Start the broker JVM in its own session (its pid is its process group), output to
    ``log_handle``, forked from the long-lived spawner thread."""

    def popen() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if die_with_parent else None,
        )

    return _SPAWNER.submit(popen).result()


def _terminate(pid: int, run_dir: Path, timeout_s: float) -> None:
    """SIGTERM the broker's process group; SIGKILL it if it is still alive after
    ``timeout_s``."""
    if not _is_our_broker(pid, run_dir):
        return
    if not _signal_group_and_wait(pid, signal.SIGTERM, timeout_s):
        _kill_and_wait(pid)


def _kill_and_wait(pid: int) -> None:
    if not _signal_group_and_wait(pid, signal.SIGKILL, _KILL_WAIT_S):
        raise BrokerError(f"the broker (pid {pid}) is still alive {_KILL_WAIT_S} s after SIGKILL")


def _signal_group_and_wait(pid: int, signal_number: int, timeout_s: float) -> bool:
    """Send a signal to the process group led by ``pid``; True once ``pid`` is gone (reaped
    if it is our child), False if it is still alive after ``timeout_s``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal_number)
    deadline = time.monotonic() + timeout_s
    while True:
        _reap(pid)
        if not _is_alive(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _reap(pid: int) -> None:
    # Only the process that started the broker can (and must) collect its exit status.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


_PR_SET_PDEATHSIG = 1
# Loaded before any fork: the child should not have to open a library between fork and exec.
_LIBC = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGKILL it when its parent thread ends."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
