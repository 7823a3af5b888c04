"""HTTP throughput and latency of event intake on loopback, against a do-nothing baseline.

Starts the real rules_service (`python -m rules_service`, uvicorn, one process) on a fresh
PostgreSQL database (run capture, audit and outbox on PostgreSQL; the relay sends commands to
Redis when it is reachable), loads `examples/returns.xlsx` (or an equivalent workbook built
here when it is missing), publishes it, and measures, at each of a few concurrencies:

- `POST /v1/events`: decisions/s, p50 and p99 latency, every request a new event (a mix of
  returns, orders, cancellations and delays);
- the same against a FastAPI app whose async endpoint only parses the event (same pydantic
  model) and answers a constant, in its own uvicorn process: the no-op ceiling;
- `POST /v1/events:batch`: decisions/s and its ratio to single events.

The load comes from `wrk` (a C load generator: `apt-get install wrk`) so that the client does
not cap the baseline; without it, from asyncio httpx clients (slower: the ceiling it measures
is the client's). Bounded in time:

    .venv/bin/python bench/http_bench.py [--concurrency 4,8,16,32] [--seconds 8]
        [--batch-events 20000] [--batch-size 250] [--batch-concurrency 4] [--client wrk|httpx]
        [--background process|thread]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
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
    async def post_event(event: Event) -> dict[str, Any]:  # async, as the service's endpoint
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
class Measure:
    name: str
    concurrency: int
    decisions: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rate(self) -> float:
        return self.decisions / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (
            f"{self.name:<30} c={self.concurrency:<3} {self.rate:>8.0f} decisions/s"
            f"   p50 {self.p50_ms:7.2f} ms   p99 {self.p99_ms:7.2f} ms"
            f"   ({self.decisions} in {self.seconds:.1f} s, {self.errors} errors)"
        )


# Every request a new event, the same mix as make_event (ids: <run>-<thread>-<i>).
WRK_SCRIPT = r"""
local i = 0
local reasons = {"damaged", "defective", "wrong_item", "changed_mind", "too_small"}
local types = {"return.requested", "order.placed", "cancel.requested", "shipment.delayed"}
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  run = args[1]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  i = i + 1
  local kind = types[i % 4 + 1]
  local order = string.format('"id":"o-%d","total":%d', i % 2000, 1000 + (i * 37) % 40000)
  local extra = ""
  if kind == "return.requested" then
    extra = string.format(',"return":{"reason":"%s"}', reasons[i % 5 + 1])
  elseif kind == "order.placed" then
    order = order .. string.format(
      ',"payment_method":"%s","fulfillment_status":null,"shipping_address":{"province":"%s"}',
      ({"card", "cod", "bnpl"})[i % 3 + 1], ({"Tokyo", "Osaka", "Okinawa"})[i % 3 + 1])
    extra = string.format(',"fraud":{"score":%d}', (i * 13) % 100)
  elseif kind == "cancel.requested" then
    order = order .. string.format(',"fulfillment_status":"%s"',
      ({"unfulfilled", "fulfilled"})[i % 2 + 1])
  else
    extra = string.format(',"shipment":{"delay_days":%d}', 1 + i % 6)
  end
  local body = string.format(
    '{"id":"%s-%d-%d","source":"bench","type":"%s","occurred_at":"2026-11-%02dT10:00:00+09:00",'
    .. '"data":{"order":{%s},"customer":{"id":"c-%d"}%s}}',
    run, tid, i, kind, 1 + i % 28, order, i % 700, extra)
  return wrk.format(nil, nil, nil, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK-RESULT %d %d %d %.3f %.3f\n", summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def wrk_load(
    *, name: str, url: str, concurrency: int, seconds: float, headers: dict[str, str], run: str
) -> Measure:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    args = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "-s", script.name]
    for header, value in headers.items():
        args += ["-H", f"{header}: {value}"]
    try:
        output = subprocess.run(
            [*args, url, "--", run], capture_output=True, text=True, check=True, timeout=600
        ).stdout
    finally:
        os.unlink(script.name)
    line = next(x for x in output.splitlines() if x.startswith("WRK-RESULT"))
    requests, micros, errors, p50, p99 = line.split()[1:]
    done = int(requests) - int(errors)
    return Measure(name, concurrency, done, int(micros) / 1e6, float(p50), float(p99), int(errors))


async def httpx_load(
    *,
    name: str,
    url: str,
    bodies: list[Any],
    per_request: int,
    concurrency: int,
    seconds: float,
    headers: dict[str, str],
) -> Measure:
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
    ordered = sorted(latencies) or [float("nan")]

    def percentile(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    done = (len(latencies) - errors) * per_request
    return Measure(name, concurrency, done, elapsed, percentile(0.5), percentile(0.99), errors)


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
            "RUNBOOK_BACKGROUND": args.background,
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
                print(f"sink: {sink}; workbook: {source}; relay and audit appender:"
                      f" {args.background} (RUNBOOK_BACKGROUND)")
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
    client = args.client or ("wrk" if shutil.which("wrk") else "httpx")
    print(f"load generator: {client}")

    async def single(name: str, url: str, concurrency: int, run: str) -> Measure:
        if client == "wrk":
            return wrk_load(name=name, url=url, concurrency=concurrency, seconds=args.seconds,
                            headers=headers, run=run)
        bodies = [make_event(run, i) for i in range(int(args.seconds * 2000))]
        return await httpx_load(name=name, url=url, bodies=bodies, per_request=1,
                                concurrency=concurrency, seconds=args.seconds, headers=headers)

    service_url = f"{base}/v1/events"
    baseline_url = f"http://127.0.0.1:{baseline_port}/v1/events"
    await single("warm-up", service_url, 8, f"{tag}-w")
    rows: list[tuple[Measure, Measure]] = []
    for concurrency in args.concurrency:
        ceiling = await single("baseline (parse only)", baseline_url, concurrency, f"{tag}-b")
        service = await single("POST /v1/events", service_url, concurrency, f"{tag}-s")
        print(ceiling.line())
        print(service.line(), f"  ratio {service.rate / max(ceiling.rate, 1e-9):.2f}")
        rows.append((ceiling, service))
    lone = await single("POST /v1/events (one client)", service_url, 1, f"{tag}-1")
    print(lone.line())
    events = [make_event(f"{tag}-m", i) for i in range(args.batch_events)]
    batches = [events[i : i + args.batch_size] for i in range(0, len(events), args.batch_size)]
    batch = await httpx_load(
        name=f"POST /v1/events:batch x{args.batch_size}",
        url=f"{base}/v1/events:batch",
        bodies=batches,
        per_request=args.batch_size,
        concurrency=args.batch_concurrency,
        seconds=args.seconds * 2,
        headers=headers,
    )
    print(batch.line())
    summarize(rows, lone, batch)


def summarize(rows: list[tuple[Measure, Measure]], lone: Measure, batch: Measure) -> None:
    """The issue's three figures: the share of the no-op ceiling reached with p99 < 25 ms,
    and events:batch against single events."""
    ceiling = max(rows, key=lambda row: row[0].rate)[0]
    measured = [service for _, service in rows] + [lone]
    within = [service for service in measured if service.p99_ms < 25 and service.rate]
    print()
    print(f"no-op ceiling: {ceiling.rate:.0f}/s (c={ceiling.concurrency})")
    if within:
        best = max(within, key=lambda m: m.rate)
        print(
            f"POST /v1/events with p99 < 25 ms: {best.rate:.0f}/s (c={best.concurrency},"
            f" p99 {best.p99_ms:.1f} ms) = {best.rate / ceiling.rate:.2f} of the ceiling"
        )
    else:
        print("POST /v1/events: p99 >= 25 ms at every concurrency measured")
    fastest = max((service for _, service in rows), key=lambda m: m.rate)
    print(
        f"POST /v1/events at its fastest: {fastest.rate:.0f}/s (c={fastest.concurrency}, p99"
        f" {fastest.p99_ms:.1f} ms) = {fastest.rate / ceiling.rate:.2f} of the ceiling"
    )
    if lone.rate and fastest.rate:
        print(
            f"events:batch / single events: {batch.rate / lone.rate:.1f}x one client posting"
            f" one at a time, {batch.rate / fastest.rate:.1f}x single events at their fastest"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[4, 8, 16, 32],
        help="connections of the single-event phases, comma-separated",
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each phase")
    parser.add_argument("--batch-events", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--batch-concurrency", type=int, default=4)
    parser.add_argument("--client", choices=["wrk", "httpx"], help="default: wrk when installed")
    parser.add_argument(
        "--background",
        choices=["process", "thread"],
        default="process",
        help="RUNBOOK_BACKGROUND of the service (default: process, as compose.yaml runs it)",
    )
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
        return
    run(args)


if __name__ == "__main__":
    main()
