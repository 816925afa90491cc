"""The test session's network guard: loopback allowed, the internet refused."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.request import urlopen

import pytest

from tests.network_guard import NetworkBlocked, is_local


def test_addresses_are_classified() -> None:
    assert is_local(("127.0.0.1", 80), socket.AF_INET)
    assert is_local(("::1", 80, 0, 0), socket.AF_INET6)
    assert is_local(("localhost", 80), socket.AF_INET)
    assert not is_local(("93.184.216.34", 443), socket.AF_INET)
    assert not is_local(("api.vitaldb.net", 443), socket.AF_INET)


def test_outbound_connections_are_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s, pytest.raises(NetworkBlocked):
        s.connect(("93.184.216.34", 443))


def test_loopback_still_works() -> None:
    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.handle_request, daemon=True).start()
    with urlopen(f"http://127.0.0.1:{server.server_port}/", timeout=10) as response:
        assert response.read() == b"ok"
    server.server_close()
