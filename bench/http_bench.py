"""HTTP throughput and latency of event intake on loopback, against a do-nothing baseline.

Starts the real rules_service (`python -m rules_service`, uvicorn, one process) on a fresh
PostgreSQL database (run capture, audit and outbox on PostgreSQL; the relay sends commands to
Redis when it is reachable), loads `examples/returns.xlsx` (or an equivalent workbook built
here when it is missing), publishes it, and measures with concurrent httpx clients:

- `POST /v1/events`: decisions/s, p50 and p99 latency;
- the same against a FastAPI app whose endpoint only parses the event (same pydantic model)
  and answers a constant, in its own uvicorn process: the ratios show what deciding costs;
- `POST /v1/events:batch`: decisions/s and its ratio to single events.

Bounded in count and time:

    .venv/bin/python bench/http_bench.py [--events 3000] [--concurrency 32] [--seconds 20]
        [--batch-events 20000] [--batch-size 250] [--batch-concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from rules_service.events.schemas import Event

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "returns.xlsx"
PG_ADMIN_URL = os.environ.get("RUNBOOK_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("RUNBOOK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
ADMIN_KEY = "rb_bench_admin_" + uuid.uuid4().hex
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ------------------------------------------------------------------------------ baseline


def baseline_app() -> Any:
    """Parses the event with the service's own model and answers a constant."""
    from fastapi import FastAPI

    app = FastAPI()
    answer = {"event_id": "", "run_id": "baseline", "decisions": []}

    @app.post("/v1/events")
    def post_event(event: Event) -> dict[str, Any]:
        return {**answer, "event_id": event.id}

    return app


def serve_baseline(port: int) -> None:
    import uvicorn

    uvicorn.run(baseline_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ------------------------------------------------------------------------------ workbook


def workbook() -> bytes:
    if EXAMPLE.exists():
        return EXAMPLE.read_bytes()
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "return_policy"
    rows: list[list[Any]] = [
        ["Table", "return_policy"],
        ["Trigger", "return.requested"],
        ["Hit policy", "FIRST"],
        [],
        [
            "when return.reason",
            "when order.total",
            "when delivery.days_since",
            "when customer.returns_90d",
            "then outcome",
            "do refund",
            "do post_slack",
        ],
        [
            '"damaged", "defective"',
            "-",
            "<= 30 + delivery.delay_days",
            "< 3",
            '"refund"',
            "amount=order.total",
            'channel="#returns"',
        ],
        ["-", "> 30000", "-", "-", '"review"', "-", 'channel="#review"'],
        ["-", "-", "> 30 + delivery.delay_days", "-", '"reject"', "-", "-"],
        ["-", "-", "-", ">= 3", '"review"', "-", 'channel="#abuse"'],
        ["-", "-", "-", "-", '"return_label"', "-", "-"],
    ]
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------------------ events


REASONS = ("damaged", "defective", "wrong_item", "changed_mind", "too_small")


def make_event(run: str, i: int) -> dict[str, Any]:
    """A mix: returns, new orders, cancellations and carrier delays of 2000 orders."""
    order: dict[str, Any] = {"id": f"o-{i % 2000}", "total": 1000 + (i * 37) % 40000}
    data: dict[str, Any] = {"order": order, "customer": {"id": f"c-{i % 700}"}}
    kind = ("return.requested", "order.placed", "cancel.requested", "shipment.delayed")[i % 4]
    if kind == "return.requested":
        data["return"] = {"reason": REASONS[i % len(REASONS)]}
    elif kind == "order.placed":
        order.update(
            payment_method=("card", "cod", "bnpl")[i % 3],
            fulfillment_status=None,
            shipping_address={"province": ("Tokyo", "Osaka", "Okinawa")[i % 3]},
        )
        data["fraud"] = {"score": (i * 13) % 100}
    elif kind == "cancel.requested":
        order["fulfillment_status"] = ("unfulfilled", "fulfilled")[i % 2]
    else:
        data["shipment"] = {"delay_days": 1 + i % 6}
    return {
        "id": f"{run}-{i}",
        "source": "bench",
        "type": kind,
        "occurred_at": f"2026-11-{1 + i % 28:02d}T10:00:00+09:00",
        "data": data,
    }


def delivered_event(run: str, i: int) -> dict[str, Any]:
    return {
        "id": f"{run}-dl-{i}",
        "source": "bench",
        "type": "shipment.delivered",
        "occurred_at": "2026-10-20T10:00:00+09:00",
        "data": {"order": {"id": f"o-{i}"}, "customer": {"id": f"c-{i % 700}"}},
    }


# ------------------------------------------------------------------------------ load


@dataclass
class Result:
    name: str
    decisions: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return self.decisions / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<28} {self.rate:>9.0f} decisions/s   p50 {self.percentile(0.5):7.2f} ms"
            f"   p99 {self.percentile(0.99):7.2f} ms   ({self.decisions} in {self.seconds:.1f} s,"
            f" {self.errors} errors)"
        )


async def load(
    *,
    name: str,
    url: str,
    bodies: list[Any],
    per_request: int,
    concurrency: int,
    seconds: float,
    headers: dict[str, str],
) -> Result:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                answer = await client.post(url, json=body)
                latencies.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    done = (len(latencies) - errors) * per_request
    return Result(name, done, elapsed, latencies, errors)


# ------------------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def process(args: list[str], env: dict[str, str]) -> Any:
    child = subprocess.Popen(
        args, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        yield child
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()


@contextmanager
def database() -> Any:
    import psycopg

    name = f"runbook_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


def redis_env(prefix: str) -> dict[str, str]:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        client.ping()
        client.close()
    except Exception:  # noqa: BLE001 - no Redis: the embedded default
        return {}
    return {"RUNBOOK_REDIS_URL": REDIS_URL, "RUNBOOK_REDIS_PREFIX": prefix}


def drop_redis_keys(prefix: str) -> None:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
    except Exception:  # noqa: BLE001
        pass


# ------------------------------------------------------------------------------ setup


def publish(base: str) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    upload = httpx.put(
        f"{base}/v1/rulesets/returns",
        content=workbook(),
        headers={**admin, "Content-Type": XLSX},
        timeout=60,
    )
    upload.raise_for_status()
    version = upload.json()["version"]
    approver = httpx.post(
        f"{base}/v1/keys",
        json={"name": "bench-approver", "roles": ["approver"]},
        headers=admin,
        timeout=30,
    )
    approver.raise_for_status()
    approve = httpx.post(
        f"{base}/v1/rulesets/returns/versions/{version}/approve",
        json={},
        headers={"Authorization": f"Bearer {approver.json()['key']}"},
        timeout=30,
    )
    if approve.status_code not in (200, 409):
        approve.raise_for_status()
    published = httpx.post(
        f"{base}/v1/rulesets/returns/versions/{version}/publish",
        json={"percent": 100},
        headers=admin,
        timeout=30,
    )
    published.raise_for_status()


def wait_live(base: str, headers: dict[str, str]) -> None:
    probe = make_event("probe", 0)  # a return: the example's return_policy listens
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = httpx.post(f"{base}/v1/decide", json=probe, headers=headers, timeout=10)
        if answer.status_code == 200 and answer.json()["decisions"]:
            return
        time.sleep(0.2)
    raise RuntimeError("the published workbook did not go live")


# ------------------------------------------------------------------------------ main


def run(args: argparse.Namespace) -> None:
    prefix = f"runbook-bench-{uuid.uuid4().hex[:8]}"
    service_port, baseline_port = free_port(), free_port()
    with database() as url:
        env = {
            "RUNBOOK_DATABASE_URL": url,
            "RUNBOOK_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
            "RUNBOOK_PORT": str(service_port),
            "RUNBOOK_LOG_LEVEL": "WARNING",
            **redis_env(prefix),
        }
        service_cmd = [sys.executable, "-m", "rules_service", "--port", str(service_port)]
        baseline_cmd = [sys.executable, __file__, "--serve-baseline", str(baseline_port)]
        try:
            with process(service_cmd, env), process(baseline_cmd, {}):
                base = f"http://127.0.0.1:{service_port}"
                wait_ready(f"{base}/healthz")
                wait_ready(f"http://127.0.0.1:{baseline_port}/docs")
                publish(base)
                headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
                wait_live(base, headers)
                sink = "redis" if "RUNBOOK_REDIS_URL" in env else "embedded"
                source = "examples/returns.xlsx" if EXAMPLE.exists() else "built-in"
                print(f"sink: {sink}; workbook: {source}")
                asyncio.run(measure(args, base, baseline_port, headers))
        finally:
            drop_redis_keys(prefix)


async def measure(
    args: argparse.Namespace, base: str, baseline_port: int, headers: dict[str, str]
) -> None:
    tag = uuid.uuid4().hex[:6]
    history = [delivered_event(tag, i) for i in range(2000)]
    for start in range(0, len(history), 500):  # delivery history, not timed
        httpx.post(
            f"{base}/v1/events:batch",
            json=history[start : start + 500],
            headers=headers,
            timeout=120,
        ).raise_for_status()
    warm = [make_event(f"{tag}-warm", i) for i in range(200)]
    await load(
        name="warm-up",
        url=f"{base}/v1/events",
        bodies=warm,
        per_request=1,
        concurrency=args.concurrency,
        seconds=args.seconds,
        headers=headers,
    )
    single_bodies = [make_event(f"{tag}-s", i) for i in range(args.events)]
    baseline_bodies = [make_event(f"{tag}-b", i) for i in range(args.events)]
    baseline = await load(
        name="baseline (parse only)",
        url=f"http://127.0.0.1:{baseline_port}/v1/events",
        bodies=baseline_bodies,
        per_request=1,
        concurrency=args.concurrency,
        seconds=args.seconds,
        headers=headers,
    )
    single = await load(
        name="POST /v1/events",
        url=f"{base}/v1/events",
        bodies=single_bodies,
        per_request=1,
        concurrency=args.concurrency,
        seconds=args.seconds,
        headers=headers,
    )
    events = [make_event(f"{tag}-m", i) for i in range(args.batch_events)]
    batches = [events[i : i + args.batch_size] for i in range(0, len(events), args.batch_size)]
    batch = await load(
        name=f"POST /v1/events:batch x{args.batch_size}",
        url=f"{base}/v1/events:batch",
        bodies=batches,
        per_request=args.batch_size,
        concurrency=args.batch_concurrency,
        seconds=args.seconds,
        headers=headers,
    )
    for result in (baseline, single, batch):
        print(result.line())
    if not (baseline.rate and single.rate):
        print("a phase made no decisions: no ratios")
        return
    print(
        f"service / baseline throughput: {single.rate / baseline.rate:.2f}"
        f"   (baseline is {baseline.rate / single.rate:.1f}x faster)"
    )
    print(
        f"service / baseline p50: {single.percentile(0.5) / baseline.percentile(0.5):.1f}x"
        f"   p99: {single.percentile(0.99) / baseline.percentile(0.99):.1f}x"
    )
    print(f"events:batch / single events throughput: {batch.rate / single.rate:.1f}x")
    if single.latencies:
        print(f"single-event mean latency {statistics.mean(single.latencies) * 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="single events to post")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0, help="cap of each phase")
    parser.add_argument("--batch-events", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--batch-concurrency", type=int, default=4)
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
        return
    run(args)


if __name__ == "__main__":
    main()
