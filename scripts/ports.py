"""Loopback ports for child processes (a server under test, anvil), and who
is listening on one.

A port found free and closed again can be taken by someone else (another
pytest worker's server) before the child binds it. The child then fails to
bind and exits, but until it does, a readiness probe on that port is
answered by the neighbour: a test once talked to the wrong server and got
its 404. `owns_listener` asks the kernel whether the child holds the
listening socket, so a probe's answer counts only when it came from the
child."""

from __future__ import annotations

import os
import socket
from pathlib import Path

_LISTEN = "0A"  # the TCP state in /proc/net/tcp


def free_port() -> int:
    """A loopback port that was free a moment ago (see the module's note)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening_inodes(port: int) -> set[str] | None:
    """The socket inodes listening on `port` (any address), or None where
    /proc/net is not there to tell."""
    found: set[str] = set()
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not any(table.exists() for table in tables):
        return None
    for table in tables:
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == _LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                found.add(inode)
    return found


def owns_listener(pid: int, port: int) -> bool:
    """Whether process `pid` holds a socket listening on `port`. True where
    the kernel cannot be asked (no /proc): the caller's probe then decides
    alone, as it did before."""
    inodes = _listening_inodes(port)
    if inodes is None:
        return True
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return False
    for name in names:
        try:
            target = os.readlink(fd_dir / name)
        except OSError:
            continue  # closed while we looked
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False
