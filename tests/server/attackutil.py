"""Helpers for the hardening tests: strict JSON checks, one keep-alive connection, raw sockets.

- ``strict_loads(body)``: decode as strict parsers do (msgspec, which remotevars clients use, and
  ``json`` refusing NaN/Infinity); raises on anything else.
- ``assert_served_strict(url, key)``: every read endpoint answers strict JSON.
- ``KeepAlive``: one HTTP/1.1 connection (``http.client``) that fails loudly if the server closed it.
- ``open_socket(port)``: a raw TCP connection to 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any

import msgspec

from tests.serverutil import api_client

__all__ = ['KeepAlive', 'assert_served_strict', 'open_socket', 'strict_loads']


def _refuse(constant: str) -> Any:
    raise ValueError(f'{constant} is not JSON')


def strict_loads(body: bytes) -> Any:
    """Return ``body`` decoded; raises when msgspec or a NaN-refusing ``json`` would refuse it."""
    msgspec.json.decode(body)
    return json.loads(body.decode('utf-8'), parse_constant=_refuse)


def assert_served_strict(url: str, key: str) -> dict[str, Any]:
    """Check that the whole configuration, each variable and the types are strict JSON; return the variables."""
    with api_client(url, key) as client:
        response = client.get('/v1/variables/')
        assert response.status_code == 200, response.text
        variables: dict[str, Any] = strict_loads(response.content)['variables']
        for name in variables:
            one = client.get(f'/v1/variables/{name}/')
            assert one.status_code == 200, one.text
            strict_loads(one.content)
        types = client.get('/v1/variable-types/')
        assert types.status_code == 200, types.text
        strict_loads(types.content)
    return variables


class KeepAlive:
    """One HTTP/1.1 connection to the server; every request must reuse the same socket.

    ``request`` raises (``http.client.RemoteDisconnected`` or an ``AssertionError``) if the server
    closed or reset the connection after an earlier answer.
    """

    def __init__(self, port: int, key: str) -> None:
        self._conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
        self._key = key
        self._sock: socket.socket | None = None
        self.requests = 0

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        """Send one request on the connection; return ``(status, headers, body)``."""
        headers = {'Authorization': f'bearer {self._key}'}
        if body is not None:
            headers['Content-Type'] = 'application/json'
        self._conn.request(method, path, body=body, headers=headers)
        if self._sock is None:
            self._sock = self._conn.sock
        assert self._conn.sock is self._sock, 'the connection was replaced: the server closed the previous one'
        response = self._conn.getresponse()
        content = response.read()
        self.requests += 1
        return response.status, {k.lower(): v for k, v in response.getheaders()}, content

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def open_socket(port: int, *, timeout: float = 10.0) -> socket.socket:
    """Return a TCP connection to the server on 127.0.0.1."""
    return socket.create_connection(('127.0.0.1', port), timeout=timeout)
