"""Which broker the tests use: a container through testcontainers only where a Docker engine
really answers. Here no engine runs, so only the detection is tested: against nothing, against
a socket that answers something else, and against a fake engine answering its ping."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kafka_containers import docker_engine_answers


@pytest.fixture
def answering(tmp_path: Path) -> Iterator[tuple[Path, list[bytes]]]:
    """A Unix socket that answers every connection with the next of the answers given."""
    path = tmp_path / "docker.sock"
    answers: list[bytes] = []
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                request = connection.recv(4096)
                if request.startswith(b"GET /_ping ") and answers:
                    connection.sendall(answers.pop(0))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path, answers
    server.close()


def test_no_engine_where_nothing_listens(tmp_path: Path) -> None:
    assert not docker_engine_answers(f"unix://{tmp_path}/absent.sock")
    assert not docker_engine_answers("tcp://127.0.0.1:9")
    assert not docker_engine_answers("ssh://somewhere")


def test_an_engine_is_one_that_answers_its_ping_ok(answering: tuple[Path, list[bytes]]) -> None:
    path, answers = answering
    answers.append(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nApi-Version: 1.45\r\n\r\nOK")
    assert docker_engine_answers(f"unix://{path}")


def test_a_socket_answering_otherwise_is_no_engine(answering: tuple[Path, list[bytes]]) -> None:
    path, answers = answering
    answers.append(b"HTTP/1.1 404 Not Found\r\n\r\nnope")
    assert not docker_engine_answers(f"unix://{path}")
    answers.append(b"SSH-2.0-OpenSSH_9.2\r\n")
    assert not docker_engine_answers(f"unix://{path}")


def test_the_environment_names_the_engine(
    answering: tuple[Path, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, answers = answering
    answers.append(b"HTTP/1.1 200 OK\r\n\r\nOK")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    assert docker_engine_answers()
