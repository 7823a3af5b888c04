"""`python -m action_service [--host H] [--port P] [--worker-only | --no-worker]`
(env RUNBOOK_HOST / RUNBOOK_ACTION_PORT; defaults 127.0.0.1:8001)."""

from __future__ import annotations

import argparse
import signal
import threading

import uvicorn

from action_service.app import create_app, redis_client, start_worker
from runbook.db import make_engine, make_session_factory, migrate, resolve_database_url
from runbook.logging import configure_logging
from runbook.settings import Settings


def parse(argv: list[str] | None, settings: Settings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m action_service",
                                     description="Runbook action service (API + worker)")
    parser.add_argument("--host", default=settings.host, help="default: RUNBOOK_HOST or 127.0.0.1")
    parser.add_argument("--port", type=int, default=settings.action_port,
                        help="default: RUNBOOK_ACTION_PORT or 8001")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--worker-only", action="store_true", help="run the worker, no HTTP")
    mode.add_argument("--no-worker", action="store_true", help="serve HTTP, run no worker")
    return parser.parse_args(argv)


def run_worker_only(settings: Settings) -> None:
    url = resolve_database_url(settings)
    migrate(url)
    engine = make_engine(url, pool_size=settings.action_worker_threads + 4)
    client = redis_client(settings)
    worker = start_worker(settings, make_session_factory(engine), client)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    stopping.wait()
    worker.stop() if hasattr(worker, "stop") else worker.close()
    engine.dispose()


def main(argv: list[str] | None = None) -> None:
    settings = Settings()
    args = parse(argv, settings)
    configure_logging(settings.log_level)
    if args.worker_only:
        run_worker_only(settings)
        return
    app = create_app(settings, worker=not args.no_worker)
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
