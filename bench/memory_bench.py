"""Memory over a long life: 1,000,000 decisions on one ruleset, and 500 versions of a 200-row
ruleset loaded one after another in one process (each replacing the last, as a service does
when a new version goes live). Prints RSS as it goes; bounded in count and time.

    .venv/bin/python bench/memory_bench.py [--decisions 1000000] [--versions 500]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import tables


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def ruleset_doc(version: int, rows: int = 200) -> dict[str, Any]:
    return {
        "tables": [{
            "name": "t", "sheet": "t", "triggers": ["e"], "hit_policy": "COLLECT",
            "header_row": 1,
            "columns": [{"kind": "when", "name": "order.sku", "letter": "A"},
                        {"kind": "when", "name": "order.total", "letter": "B"},
                        {"kind": "then", "name": "out", "letter": "C"},
                        {"kind": "do", "name": "tag_order", "letter": "D"}],
            "rules": [{"row": i + 2, "cells": [f'"SKU{version}-{i % 50}"', f">= {i * 10}", str(i),
                                               f'tags="v{version}"']} for i in range(rows)],
        }],
    }


def decisions(count: int) -> None:
    rs = tables.load_json(ruleset_doc(0))
    start, base = time.perf_counter(), rss_mb()
    print(f"decisions: start RSS {base:.1f} MB")
    step = max(count // 5, 1)
    for i in range(count):
        rs.decide("e", {"order": {"sku": f"SKU0-{i % 60}", "total": i % 2500}})
        if (i + 1) % step == 0:
            print(f"  after {i + 1:>9,} decisions: RSS {rss_mb():.1f} MB "
                  f"({(i + 1) / (time.perf_counter() - start):,.0f} decisions/s)")
    print(f"decisions: RSS grew {rss_mb() - base:+.1f} MB over {count:,} decisions")


def versions(count: int) -> None:
    live: tables.RuleSet | None = None
    base = rss_mb()
    print(f"versions: start RSS {base:.1f} MB")
    step = max(count // 5, 1)
    for version in range(count):
        rs = tables.load_json(ruleset_doc(version))
        rs.decide("e", {"order": {"sku": f"SKU{version}-3", "total": 100}})
        if live is not None:
            live.close()
        live = rs
        if (version + 1) % step == 0:
            print(f"  after {version + 1:>4} versions: RSS {rss_mb():.1f} MB")
    print(f"versions: RSS grew {rss_mb() - base:+.1f} MB over {count} versions "
          "(bound stated in the README: < 20 MB after the first 50)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--versions", type=int, default=500)
    args = parser.parse_args()
    versions(args.versions)
    decisions(args.decisions)
