"""Real server processes on free ports (killable, restartable), and a TCP proxy whose
connections can be cut."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    """``declaration serve`` (gevent, as in production) on one port, killable and restartable.

    :meth:`kill` ends it with SIGKILL, as a crash or the OOM killer would: no request is
    finished, no connection closed, nothing flushed. :meth:`start` brings it up again on
    the same port and database; the log of every run goes to ``instance/server.log``.
    """

    def __init__(
        self, database_url: str, instance: Path, *, port: int | None = None, **env: str
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.instance = instance
        self.environment = {
            **os.environ,
            "DECLARATION_DATABASE_URL": database_url,
            "DECLARATION_INSTANCE_PATH": str(instance),
            "DECLARATION_PUBLIC_BASE_URL": self.url,
            "DECLARATION_SECRET_KEY": "live-server-secret",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.instance / "server.log"

    def start(self) -> None:
        """Start the process and wait until it serves pages."""
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from declaration.entry import main; main()",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while True:
            with suppress(requests.ConnectionError):
                if requests.get(f"{self.url}/", timeout=1).status_code == 200:
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("server did not start:\n" + self.log_path.read_text())
            time.sleep(0.1)

    def kill(self) -> None:
        """End the process with SIGKILL, without any warning."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        """End the process politely (SIGTERM), or with SIGKILL when it does not go."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@contextmanager
def server_process(
    database_url: str, instance: Path, *, port: int | None = None, **env: str
) -> Iterator[str]:
    """Run ``declaration serve`` (gevent, as in production) and yield its base URL.

    ``port``: a free port chosen beforehand (e.g. to name it in ``env``); else one is.
    """
    server = ServerProcess(database_url, instance, port=port, **env)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


class CuttableProxy:
    """Forwards TCP connections to a server; :meth:`cut` breaks all of them at once.

    With more than one target port, each new connection goes to the first server that
    accepts it, as a load balancer fails over from a server that is down to the next.
    """

    def __init__(self, target_port: int, *fallback_ports: int) -> None:
        self.target_port = target_port
        self.target_ports = (target_port, *fallback_ports)
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = self._connect_upstream()
            if upstream is None:  # every server is down (killed, restarting): refuse it
                client.close()
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _connect_upstream(self) -> socket.socket | None:
        for port in self.target_ports:
            with suppress(OSError):
                return socket.create_connection(("127.0.0.1", port))
        return None

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Break every open connection, in both directions, without a goodbye."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                sock.close()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()


class RedisProcess:
    """A ``redis-server`` of the test's own on a free port, without persistence.

    For tests that kill and restart the message queue: never the machine's Redis.
    """

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it (again, on the same port) and wait until it answers."""
        import redis

        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not installed (make redis-deps)")
        with open(self.directory / "redis.log", "a") as log:
            self.process = subprocess.Popen(
                [
                    executable,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.directory),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        client = redis.Redis.from_url(self.url)
        try:
            while True:
                with suppress(redis.ConnectionError):
                    if client.ping():
                        return
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(
                        "redis-server did not start:\n" + (self.directory / "redis.log").read_text()
                    )
                time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """End it with SIGKILL: every connection breaks, every subscription is gone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
