"""Action throughput and end-to-end lag: N `post_slack` commands through one and then two
worker processes (`python -m action_service --worker-only`) to a fake Slack webhook, over real
PostgreSQL and Redis.

    .venv/bin/python bench/actions_bench.py [--n 2000] [--workers 1 2] [--threads 8] [--timeout 120]

Prints, per worker count: actions/s of a burst (first XADD to last effect), the lag from each
command's `created_at` to the fake receiving its message in that burst (queueing), and the
same lag for 200 commands paced at 50/s (an unloaded service). Bounded: each phase stops at
--timeout and reports what arrived.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402

from runbook.db import migrate  # noqa: E402
from tests.fakes.server import FakeServer  # noqa: E402
from tests.fakes.systems import FakeSlack  # noqa: E402

PG = os.environ.get("RUNBOOK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("RUNBOOK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def make_db() -> tuple[str, str]:
    name = f"bench_actions_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return name, PG.rsplit("/", 1)[0] + "/" + name


def drop_db(name: str) -> None:
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def commands(n: int, run: str) -> list[dict]:
    now = datetime.now(UTC).isoformat()
    return [{"command_id": f"{run}:{i}", "idempotency_key": f"{run}:{i}", "run_id": run,
             "index": i, "action": "post_slack", "params": {"channel": "#bench",
                                                           "text": f"{run}:{i}"},
             "data": {}, "created_at": now} for i in range(n)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run(n: int, workers: int, timeout: float, threads: int = 8) -> dict[str, float]:
    name, url = make_db()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    slack = FakeSlack()
    server = FakeServer(slack).start()
    client = redis.Redis.from_url(REDIS)
    env = {**os.environ, "RUNBOOK_DATABASE_URL": url, "RUNBOOK_REDIS_URL": REDIS,
           "RUNBOOK_REDIS_PREFIX": prefix, "RUNBOOK_LOG_LEVEL": "WARNING",
           "RUNBOOK_SLACK_WEBHOOK_URL": server.url + slack.webhook_path,
           "RUNBOOK_CONNECTOR_RATE_PER_SECOND": "100000", "RUNBOOK_CONNECTOR_BURST": "1000",
           "RUNBOOK_ACTION_WORKER_THREADS": str(threads)}
    processes = []
    logs = tempfile.mkdtemp(prefix="actions-bench-")
    try:
        migrate(url)
        for i in range(workers):
            log = open(Path(logs) / f"w{i}.log", "wb")  # noqa: SIM115
            processes.append(subprocess.Popen([sys.executable, "-m", "action_service",
                                               "--worker-only"], cwd=ROOT, env=env,
                                              stdout=log, stderr=log))
        wait_consumers(client, f"{prefix}:actions", workers)
        result = burst(client, prefix, slack, n, timeout)
        result.update(paced(client, prefix, slack, min(n, 200), rate=50.0, timeout=timeout))
        return {"workers": workers, **result}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)
        server.close()
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()
        drop_db(name)


def send(client: redis.Redis, prefix: str, batch: list[dict]) -> None:
    pipe = client.pipeline(transaction=False)
    for cmd in batch:
        pipe.xadd(f"{prefix}:actions", {"command": json.dumps(cmd)})
    pipe.execute()


def arrivals_of(slack: FakeSlack, run_id: str) -> dict[str, float]:
    """When the fake received each message of this run (text = command id)."""
    out: dict[str, float] = {}
    for request in slack.requests_to("/services/"):
        text = (request.json() or {}).get("text", "")
        if text.startswith(run_id):
            out.setdefault(text, request.at)
    return out


def wait_done(slack: FakeSlack, run_id: str, n: int, timeout: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while len(arrivals_of(slack, run_id)) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return arrivals_of(slack, run_id)


def burst(client: redis.Redis, prefix: str, slack: FakeSlack, n: int,
          timeout: float) -> dict[str, float]:
    """n commands at once: throughput, and lag (mostly queueing)."""
    run_id = uuid.uuid4().hex
    batch = commands(n, run_id)
    created = datetime.fromisoformat(batch[0]["created_at"]).timestamp()
    started = time.time()
    send(client, prefix, batch)
    arrivals = wait_done(slack, run_id, n, timeout)
    lags = [at - created for at in arrivals.values()]
    elapsed = (max(arrivals.values()) - started) if arrivals else float("nan")
    return {"n": n, "done": len(arrivals), "seconds": elapsed,
            "per_second": len(arrivals) / elapsed if arrivals else 0.0,
            "lag_p50_ms": percentile(lags, 0.5) * 1000,
            "lag_p99_ms": percentile(lags, 0.99) * 1000,
            "lag_max_ms": max(lags) * 1000 if lags else float("nan")}


def paced(client: redis.Redis, prefix: str, slack: FakeSlack, n: int, rate: float,
          timeout: float) -> dict[str, float]:
    """n commands at `rate` a second, each created just before it is sent: the lag of an
    unloaded service from command creation to the effect."""
    run_id = uuid.uuid4().hex
    created: dict[str, float] = {}
    for i in range(n):
        cmd = commands(1, run_id)[0]
        cmd.update(command_id=f"{run_id}:{i}", idempotency_key=f"{run_id}:{i}", index=i,
                   params={"channel": "#bench", "text": f"{run_id}:{i}"},
                   created_at=datetime.now(UTC).isoformat())
        created[f"{run_id}:{i}"] = datetime.fromisoformat(cmd["created_at"]).timestamp()
        send(client, prefix, [cmd])
        time.sleep(1 / rate)
    arrivals = wait_done(slack, run_id, n, timeout)
    lags = [at - created[text] for text, at in arrivals.items()]
    return {"paced_p50_ms": percentile(lags, 0.5) * 1000,
            "paced_p99_ms": percentile(lags, 0.99) * 1000}


def wait_consumers(client: redis.Redis, stream: str, count: int, timeout: float = 60) -> None:
    """Waits for the consumer group, then for every worker to be connected (Redis lists a
    consumer only once it read something, so connected clients are counted instead)."""
    deadline = time.monotonic() + timeout
    baseline = len(client.client_list())
    while time.monotonic() < deadline:
        try:
            client.xinfo_groups(stream)
            if len(client.client_list()) >= baseline + count:
                time.sleep(0.5)
                return
        except redis.ResponseError:
            pass
        time.sleep(0.1)
    raise RuntimeError("workers did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--threads", type=int, default=8, help="worker threads per process")
    args = parser.parse_args()
    print(f"burst of {args.n}, then 200 paced at 50/s; lag = command created_at -> effect")
    print(f"{'workers':>7} {'done':>6} {'seconds':>8} {'actions/s':>10} {'burst p50':>10} "
          f"{'burst p99':>10} {'paced p50':>10} {'paced p99':>10}  (ms)")
    for workers in args.workers:
        r = run(args.n, workers, args.timeout, args.threads)
        print(f"{r['workers']:>7} {r['done']:>6} {r['seconds']:>8.2f} {r['per_second']:>10.1f} "
              f"{r['lag_p50_ms']:>10.1f} {r['lag_p99_ms']:>10.1f} {r['paced_p50_ms']:>10.1f} "
              f"{r['paced_p99_ms']:>10.1f}")


if __name__ == "__main__":
    main()
