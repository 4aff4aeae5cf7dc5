"""``gateway run`` as a subprocess the fault test kills and restarts: one incarnation after
another on the same state directory, ops port and instance id, each with its own log file.

A process that exits without the harness having killed it is restarted too (after a pause)
and counted as an unexpected exit, with the end of its log kept as the symptom.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

RESTART_PAUSE_S = 1.0


@dataclass
class Incarnation:
    number: int
    process: subprocess.Popen[bytes]
    log_path: Path
    started_at: float
    ready_at: float | None = None
    last_ready_answer: str = "not asked"
    killed_at: float | None = None
    exit_code: int | None = None
    exited_at: float | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_lines(self) -> list[str]:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []


@dataclass(frozen=True)
class UnexpectedExit:
    incarnation: int
    exit_code: int
    after_s: float
    symptom: list[str]


@dataclass
class GatewayProcess:
    environment: Mapping[str, str]
    log_dir: Path
    ops_port: int
    command: tuple[str, ...] = ("-m", "gateway.tools.cli", "run")
    """What the interpreter runs (``gateway run``; the benchmark runs its pipes too)."""
    incarnations: list[Incarnation] = field(default_factory=list)
    unexpected_exits: list[UnexpectedExit] = field(default_factory=list)

    @property
    def current(self) -> Incarnation | None:
        return self.incarnations[-1] if self.incarnations else None

    def spawn(self) -> Incarnation:
        number = len(self.incarnations) + 1
        log_path = self.log_dir / f"gateway-{number:02}.log"
        with log_path.open("ab") as sink:
            process = subprocess.Popen(
                [sys.executable, *self.command],
                env={**os.environ, **self.environment},
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        incarnation = Incarnation(number, process, log_path, started_at=time.time())
        self.incarnations.append(incarnation)
        return incarnation

    def kill(self) -> float:
        """kill -9 of the running incarnation; returns the moment of the signal."""
        incarnation = self.current
        if incarnation is None or incarnation.process.poll() is not None:
            raise RuntimeError("no running gateway to kill")
        moment = time.time()
        incarnation.killed_at = moment
        os.kill(incarnation.pid, signal.SIGKILL)
        incarnation.exit_code = incarnation.process.wait()
        incarnation.exited_at = time.time()
        return moment

    async def wait_ready(self, incarnation: Incarnation, timeout_s: float) -> float | None:
        """When ``/ready`` first answered 200, or None (timed out, or the process is gone)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and incarnation.process.poll() is None:
            ready, incarnation.last_ready_answer = await ready_answer(self.ops_port)
            if ready:
                incarnation.ready_at = time.time()
                return incarnation.ready_at
            await asyncio.sleep(0.1)
        return None

    async def wait_first_log_line(self, incarnation: Incarnation, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and incarnation.process.poll() is None:
            if incarnation.log_path.stat().st_size > 0:
                return True
            await asyncio.sleep(0.05)
        return False

    async def supervise(self, stop: asyncio.Event) -> None:
        """Restart an incarnation that exited by itself (not killed by the harness)."""
        while not stop.is_set():
            incarnation = self.current
            code = incarnation.process.poll() if incarnation else None
            if incarnation is not None and code is not None and incarnation.killed_at is None:
                if incarnation.exit_code is None:
                    self._note_unexpected_exit(incarnation, code)
                await asyncio.sleep(RESTART_PAUSE_S)
                if not stop.is_set() and self.current is incarnation:
                    self.spawn()
            await asyncio.sleep(0.1)

    def _note_unexpected_exit(self, incarnation: Incarnation, code: int) -> None:
        incarnation.exit_code = code
        incarnation.exited_at = time.time()
        self.unexpected_exits.append(
            UnexpectedExit(
                incarnation=incarnation.number,
                exit_code=code,
                after_s=round(incarnation.exited_at - incarnation.started_at, 1),
                symptom=symptom_lines(incarnation.log_lines()),
            )
        )

    async def stop(self, timeout_s: float = 30) -> str:
        """SIGTERM to the running incarnation; how it ended ("exit code 0" when cleanly)."""
        incarnation = self.current
        if incarnation is None:
            return "no process was started"
        code = incarnation.process.poll()
        if code is not None:
            return f"no process was running (the last one had exited with {code})"
        incarnation.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.to_thread(incarnation.process.wait), timeout_s)
        except TimeoutError:
            incarnation.killed_at = time.time()
            incarnation.process.kill()
            incarnation.process.wait()
            return f"still running {timeout_s:.0f} s after SIGTERM: killed"
        incarnation.exit_code = incarnation.process.returncode
        incarnation.exited_at = time.time()
        return f"exit code {incarnation.exit_code}"

    def kill_all(self) -> None:
        """Last resort at the end of a run: nothing of this run may stay behind."""
        for incarnation in self.incarnations:
            if incarnation.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(incarnation.pid, signal.SIGKILL)
                incarnation.process.wait()


def symptom_lines(lines: list[str], count: int = 4) -> list[str]:
    """The end of a log that says why a process died: its last error events, and of the
    traceback it printed on the way out, the last frame in the project and the exception."""
    errors = [
        _short(entry)
        for entry in map(_json, lines)
        if entry is not None and (entry.get("level") in ("error", "critical"))
    ]
    plain = [line.strip() for line in lines if _json(line) is None]
    raised = [line for line in plain if _EXCEPTION_LINE.match(line)]
    frames = [line for line in plain if line.startswith("File ") and "site-packages" not in line]
    traceback = [*frames[-1:], *raised[-1:]]
    return [*errors[-(count - len(traceback)) :], *traceback] if errors else traceback


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")


def log_summary(paths: list[Path]) -> list[tuple[str, int, str]]:
    """(what, count, an example) of every warning and error the gateway logged as JSON, and of
    the plain-text lines its libraries printed (tracebacks left out), most frequent first."""
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                noted = _noteworthy(line)
                if noted is not None:
                    label, example = noted
                    counts[label] += 1
                    examples.setdefault(label, example)
    return [(label, count, examples[label]) for label, count in counts.most_common()]


def _noteworthy(line: str) -> tuple[str, str] | None:
    entry = _json(line)
    if entry is not None:
        if entry.get("level") not in ("warning", "error", "critical"):
            return None
        return f"{entry.get('level')} {entry.get('event')}", _short(entry)
    text = line.strip()
    if len(text) < 12 or line[0].isspace() or text.startswith(("Traceback", "File ", "^")):
        return None
    return f"text: {text[:160]}", text[:400]


def _json(line: str) -> dict[str, object] | None:
    if not line.startswith("{"):
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def _short(entry: dict[str, object]) -> str:
    """One line for a log event: its event and fields, and the last line of its exception."""
    exception = str(entry.get("exception", "")).strip().splitlines()
    fields = {
        key: value
        for key, value in entry.items()
        if key not in ("exception", "timestamp", "level", "event")
    }
    text = f"{entry.get('event')} {json.dumps(fields, default=str)}"
    if exception:
        text += f" -> {exception[-1]}"
    return text[:400]


async def ready_answer(port: int) -> tuple[bool, str]:
    """Whether ``/ready`` answers 200, and its answer (or why there was none)."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), timeout=1
        )
    except (OSError, TimeoutError) as error:
        return False, f"no answer ({type(error).__name__})"
    try:
        writer.write(b"GET /ready HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=2)
    except (OSError, TimeoutError) as error:
        return False, f"no answer ({type(error).__name__})"
    finally:
        writer.close()
    head, _, body = raw.decode("utf-8", errors="replace").partition("\r\n\r\n")
    status = head.split(" ")[1:2]
    return status == ["200"], f"{' '.join(status)} {body.strip()}"[:300]


async def is_ready(port: int) -> bool:
    ready, _ = await ready_answer(port)
    return ready


def free_port() -> int:
    """A loopback port free at the moment of asking (for a process's ops port)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL it when the harness dies, so none is left behind."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
