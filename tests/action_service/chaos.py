"""The crash harness: a throwaway redis-server, worker subprocesses killed with SIGKILL and
restarted, a producer that re-sends on failure (like the outbox relay). Used by
test_crash.py and bench/actions_bench.py."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import redis

from tests.fakes.server import free_port

ROOT = Path(__file__).resolve().parents[2]


class ThrowawayRedis:
    """redis-server on a free port with an fsync-always append-only file, so a restart (even
    after SIGKILL) keeps the stream and the consumer group, as production Redis must."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> ThrowawayRedis:
        binary = shutil.which("redis-server") or "redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory),
             "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()
        return self

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
            self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()


class Workers:
    """`python -m action_service --worker-only` subprocesses."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = {**os.environ, **env}
        self.logs = logs
        self.processes: list[subprocess.Popen[bytes]] = []
        self.kills = 0
        self._serial = 0

    def spawn(self) -> subprocess.Popen[bytes]:
        self._serial += 1
        log = open(self.logs / f"worker-{self._serial}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen([sys.executable, "-m", "action_service", "--worker-only"],
                                   cwd=ROOT, env=self.env, stdout=log, stderr=log)
        self.processes.append(process)
        return process

    def kill_one(self, rng: random.Random) -> None:
        alive = [p for p in self.processes if p.poll() is None]
        if alive:
            victim = rng.choice(alive)
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            self.kills += 1

    def alive(self) -> int:
        return sum(1 for p in self.processes if p.poll() is None)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


class Producer(threading.Thread):
    """XADDs the commands in small batches; a failed batch is sent again (at least once)."""

    def __init__(self, url: str, stream: str, commands: list[dict[str, Any]],
                 batch: int = 20, pause: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stream = stream
        self.commands = commands
        self.batch = batch
        self.pause = pause
        self.resent = 0
        self.sent_at: dict[str, float] = {}

    def run(self) -> None:
        client = redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=1)
        for start in range(0, len(self.commands), self.batch):
            chunk = self.commands[start:start + self.batch]
            while True:
                try:
                    pipe = client.pipeline(transaction=False)
                    for cmd in chunk:
                        pipe.xadd(self.stream, {"command": json.dumps(cmd)})
                    pipe.execute()
                    break
                except redis.RedisError:
                    self.resent += 1
                    time.sleep(0.1)
            now = time.monotonic()
            for cmd in chunk:
                self.sent_at.setdefault(cmd["command_id"], now)
            time.sleep(self.pause)
        client.close()
