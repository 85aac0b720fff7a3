"""Faults the way production meets them: a TCP hop that cuts a connection mid-pipeline.

``CuttingProxy`` sits between the client and a real redis-server on loopback. After
``arm(reply_bytes=N)``, the next N bytes of replies on any connection (counted from the
first data after arming) pass and then that connection is cut (both sockets closed): the
client has read some replies and loses the rest, while Redis has applied whatever it had
received. ``request_bytes`` cuts the other
way, part-way through a packed pipeline. Arm it after the client's handshake (HELLO) so the
cut lands inside the pipeline; other traffic passes untouched.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

import redis
import redis.asyncio


class CuttingProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.host = "127.0.0.1"
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._cut_after: int | None = None
        self._cut_upstream_after: int | None = None
        self.cuts = 0
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, *, reply_bytes: int | None = None, request_bytes: int | None = None) -> None:
        """Cut the next connection after this many reply (or request) bytes, once."""
        with self._lock:
            self._cut_after = reply_bytes
            self._cut_upstream_after = request_bytes

    def _take(self, downstream: bool) -> int | None:
        with self._lock:
            if downstream:
                value, self._cut_after = self._cut_after, None
            else:
                value, self._cut_upstream_after = self._cut_upstream_after, None
            return value

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, downstream: bool) -> None:
        counted = 0  # bytes since the proxy was armed: the handshake and PING do not count
        limit: int | None = None
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if limit is None:
                    limit = self._take(downstream)
                if limit is not None:
                    if counted + len(data) >= limit:
                        sink.sendall(data[: limit - counted])
                        self.cuts += 1
                        break
                    counted += len(data)
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def client(self, **kwargs: Any) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, **kwargs)

    def async_client(self, **kwargs: Any) -> redis.asyncio.Redis:
        return redis.asyncio.Redis(host=self.host, port=self.port, **kwargs)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
