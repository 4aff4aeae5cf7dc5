"""What the kernel says about the TCP sockets on a loopback port (for tests of the ports)."""

from __future__ import annotations

from pathlib import Path

# /proc/net/tcp gives socket states in hex.
TIME_WAIT = "06"

# The JVM opens IPv6 sockets even for 127.0.0.1 (as ::ffff:127.0.0.1): they are in tcp6.
_SOCKET_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))


def tcp_states_on_local_port(port: int) -> list[str]:
    """The states of the TCP sockets, IPv4 and IPv6, whose local port is ``port``."""
    states = []
    for table in _SOCKET_TABLES:
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port:
                states.append(fields[3])
    return states
