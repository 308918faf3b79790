"""Loopback ports for the servers tests start by number (`runbridge serve --http --port N`, a real host).

A port found by binding port 0 and closing the socket comes from the kernel's ephemeral range, where any outgoing
connection made meanwhile can take it as its source port before the server binds it: with the suite spread over
xdist workers, one worker's floods and soaks open thousands of connections while another starts a server. These
ports come from below that range, where the kernel never hands out a source port, and each xdist worker picks from a
slice of its own, so two workers never pick the same one. A pick is checked free before it is returned."""

from __future__ import annotations

import itertools
import os
import random
import socket
from pathlib import Path

_SPAN = 10_000  # how many ports below the ephemeral range are shared out between the workers


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default; elsewhere a guess that is still above the well-known and registered ports


def _my_slice() -> range:
    """This worker's ports: the whole span without xdist, else its share (`gw3` of 4 takes the last quarter)."""
    low = max(_ephemeral_low() - _SPAN, 1024)
    workers = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), 1)
    index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % workers
    size = (_ephemeral_low() - low) // workers
    return range(low + index * size, low + (index + 1) * size)


# A random start, so that two test runs at once (two people on one machine) seldom meet; then in turn, so that one
# process never picks a port it handed out a moment ago and a server may not have bound yet.
_SLICE = _my_slice()
_NEXT = itertools.count(random.randrange(max(len(_SLICE), 1)))


def free_port(host: str = "127.0.0.1") -> int:
    """A port on `host` that nothing listens on or connects from now, and that no other worker will pick."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if not _SLICE:  # an ephemeral range that starts too low to leave ports below it: the kernel's pick
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            return int(sock.getsockname()[1])
    for _ in range(len(_SLICE)):
        port = _SLICE[next(_NEXT) % len(_SLICE)]
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue  # in use (or lingering after a close): the next one
            return port
    raise RuntimeError(f"no free port on {host} in {_SLICE.start}-{_SLICE.stop - 1}")
