"""A real Debian ``redis-server`` for tests: a free loopback port, a temporary directory, no
persistence, killed afterwards; it can be stopped and restarted on the same port.

Missing binary: the tests skip, unless ``CONFLUEX_REQUIRE_REDIS=1`` (CI sets it) makes that a
failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["RedisServer", "redis_server_fixture"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One redis-server process on 127.0.0.1; ``url`` stays the same across restarts."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 10.0) -> None:
        assert self.proc is None, "already running"
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.workdir),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--loglevel", "warning",
            "--logfile", str(self.workdir / f"redis-{self.starts}.log"),
        ]  # fmt: skip
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not answer on port {self.port} in {timeout} s")

    def stop(self) -> None:
        """Kills the server (SIGKILL: an outage, not a clean shutdown) and reaps it."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def redis_server_fixture(tmp_path: Path) -> Iterator[RedisServer]:
    """The body of a ``redis_server`` fixture (see tests/test_cache.py)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CONFLUEX_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def read_priced_hash(
    client: Any, key: str, proc: asyncio.subprocess.Process, fields: dict[str, str]
) -> tuple[int, str]:
    """While ``proc`` (a ``confluex ... --redis`` run) runs: waits, 30 s at most, until the hash
    ``key`` holds a price (the book is synced: the updates before the snapshot have no mid),
    reads the hash into ``fields`` (it expires 1 s after the run's last write), then waits for
    the run; returns its exit code and its stdout + stderr."""
    deadline = time.monotonic() + 30
    while not client.hexists(key, "price") and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    fields.update(client.hgetall(key))
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()
