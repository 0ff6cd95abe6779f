"""``confluex replay --serve`` in a subprocess, read by a real websockets client on loopback."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any


@dataclass
class ServedReplay:
    """What a served replay printed and what the client received."""

    token: str
    hello: dict[str, Any]  # the server's ``authenticated`` answer
    messages: list[dict[str, Any]]  # every frame after the subscription's answer
    stdout: str
    stderr: str
    returncode: int


def cli_command() -> list[str]:
    exe = shutil.which("confluex")
    return [exe] if exe else [sys.executable, "-m", "confluex.cli"]


def serve_replay(
    args: list[str], channels: list[str], params: dict[str, Any] | None = None
) -> ServedReplay:
    """Runs ``confluex replay --no-progress --serve 127.0.0.1:0 --serve-wait 60 ARGS`` with
    a token in CONFLUEX_WS_TOKEN, subscribes to ``channels`` (with ``params``) and reads every
    frame until the server closes after the replay."""
    from websockets.sync.client import connect

    token = "test-token-" + os.urandom(8).hex()
    env = {**os.environ, "CONFLUEX_WS_TOKEN": token}
    cmd = [*cli_command(), "replay", "--no-progress", "--serve", "127.0.0.1:0"]
    cmd += ["--serve-wait", "60", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    messages: list[dict[str, Any]] = []
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        m = re.search(r"ws://127\.0\.0\.1:(\d+)/ \(token from CONFLUEX_WS_TOKEN\)", first)
        assert m, first
        with connect(f"ws://127.0.0.1:{m.group(1)}/", open_timeout=30) as ws:
            ws.send(json.dumps({"action": "authenticate", "token": token}))
            hello = json.loads(ws.recv(timeout=30))
            assert hello["event"] == "authenticated"
            sub = {"action": "subscribe", "channels": channels, "params": params or {}}
            ws.send(json.dumps(sub))
            assert json.loads(ws.recv(timeout=30))["event"] == "subscribed"
            for raw in ws:  # until the server closes after the replay
                messages.append(json.loads(raw))
        rest, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return ServedReplay(token, hello, messages, first + rest, err, proc.returncode)
