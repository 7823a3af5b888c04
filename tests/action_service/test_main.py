"""`python -m action_service` serves HTTP (API + worker) with migrations applied on start."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from tests.fakes.server import free_port

from .chaos import ROOT


def test_module_serves_health_and_ready(pg_url, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {**os.environ, "RUNBOOK_DATABASE_URL": pg_url, "RUNBOOK_REDIS_PREFIX": redis_prefix,
           "RUNBOOK_REDIS_URL": "redis://127.0.0.1:6379/0", "RUNBOOK_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen([sys.executable, "-m", "action_service", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.2)
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/v1/actions").status_code == 401
    finally:
        process.terminate()
        process.wait(20)
