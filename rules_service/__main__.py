"""`python -m rules_service [--host H] [--port P]` (env RUNBOOK_HOST / RUNBOOK_PORT)."""

from __future__ import annotations

import argparse

import uvicorn

from rules_service.app import create_app
from runbook.logging import configure_logging
from runbook.settings import Settings


def main(argv: list[str] | None = None) -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(prog="python -m rules_service",
                                     description="Runbook rules service")
    parser.add_argument("--host", default=settings.host, help="default: RUNBOOK_HOST or 127.0.0.1")
    parser.add_argument("--port", type=int, default=settings.port,
                        help="default: RUNBOOK_PORT or 8000")
    args = parser.parse_args(argv)
    configure_logging(settings.log_level)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_config=None,
                access_log=False)


if __name__ == "__main__":
    main()
