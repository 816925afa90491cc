"""Tests never touch the network: outbound connections are refused unless to loopback.

Installed for the whole test session from ``conftest.py``; a test that tries to reach the
internet fails with :class:`NetworkBlocked` naming the address, instead of passing on a
machine that happens to be online.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any


class NetworkBlocked(RuntimeError):
    pass


def is_local(address: Any, family: int) -> bool:
    """Unix sockets and loopback hosts are local; anything else is the network."""
    if family == getattr(socket, "AF_UNIX", None):
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost would need DNS: not local


def install() -> None:
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def guarded(method: Any) -> Any:
        def connect(self: socket.socket, address: Any) -> Any:
            if not is_local(address, self.family):
                raise NetworkBlocked(f"tests may not reach the network (connect to {address!r})")
            return method(self, address)

        return connect

    socket.socket.connect = guarded(original_connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded(original_connect_ex)  # type: ignore[method-assign]
