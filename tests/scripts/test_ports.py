"""scripts.ports tells a child's own listener from a neighbour's on the
same port, which is what keeps a readiness probe from trusting the wrong
server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from scripts.ports import free_port, owns_listener

# A child that listens on a port of its own choosing and prints it.
LISTENER = (
    "import socket, sys; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen();"
    "print(s.getsockname()[1], flush=True); sys.stdin.read()"
)


def test_the_process_holding_the_listener_owns_it_and_no_other_does() -> None:
    child = subprocess.Popen([sys.executable, "-c", LISTENER], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        assert owns_listener(child.pid, port)
        assert not owns_listener(os.getpid(), port)
    finally:
        child.kill()
        child.wait()


def test_a_connected_or_bound_socket_is_not_a_listener() -> None:
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        assert not owns_listener(os.getpid(), bound.getsockname()[1])
    assert not owns_listener(os.getpid(), free_port())
