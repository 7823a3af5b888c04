"""Decision throughput: Runbook's compiled tables vs its reference evaluator vs GoRules'
zen-engine, on the same decision tables and the same events.

Tables of 50, 1,000 and 5,000 rows (FIRST and COLLECT) mix what real return and order
policies use: equality on strings (SKU, postcode, return reason), lists of values, numeric
ranges `[a..b]` / `[a..b)`, one-sided comparisons (`> 30000`, `>= 2`) and don't-care cells.
Each table is written as .xlsx bytes and loaded with `tables.load_workbook` (that load,
validation and compilation is timed for 5,000 rows); the same rows become a JDM decision
(zen's JSON format) with the same unary tests. The same events (fixed seed) go through:

- compiled:  `rs.decide(trigger, data)` (durable_rules underneath)
- reference: `tables.reference.decide(rs, trigger, data)` (every row checked in order)
- zen:       `zen.ZenEngine().create_decision(jdm).evaluate(data)`

All three are checked to agree on a sample before anything is timed. Each engine runs the
events, or as many as fit in `--budget` seconds (the count used is printed).

    .venv/bin/python bench/tables_bench.py [--events 20000] [--quick] [--budget 20] [--seed 7]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openpyxl

import tables
from tables import reference

TRIGGER = "return.requested"
WHENS = [
    "order.sku",
    "order.postcode",
    "return.reason",
    "order.total",
    "customer.orders",
]
REASONS = ["damaged", "defective", "wrong_item", "size", "changed_mind", "late", "破損", "汚れ"]
TARGETS = {50: 2.0, 1000: 10.0}  # compiled / zen, per table size
LOAD_TARGET_SECONDS = 5.0


# --------------------------------------------------------------------------- tables and events


@dataclass(frozen=True)
class Shape:
    rows: int
    skus: int  # size of the SKU pool (events draw from a slightly larger one)
    postcodes: list[str]


def make_shape(rows: int, seed: int) -> Shape:
    rnd = random.Random(seed * 1_000 + rows)
    postcodes = sorted({f"{rnd.randint(100, 999)}{rnd.randint(0, 9999):04d}" for _ in range(300)})
    return Shape(rows=rows, skus=max(20, rows // 2), postcodes=postcodes)


def _q(text: str) -> str:
    return f'"{text}"'


def make_rows(shape: Shape, policy: str, seed: int, mix: str) -> list[list[str]]:
    """Cells in the shared cell language (the same text is valid for Runbook and zen)."""
    rnd = random.Random(seed * 7_919 + shape.rows)
    rows: list[list[str]] = []
    for i in range(shape.rows - (1 if policy == "FIRST" else 0)):
        # "specific": every row but the default names a SKU or a postcode (or both), as a
        # keyed policy does. "broad": any column may be a don't-care, so many rows match
        # each event (a stress for COLLECT; FIRST meets an early catch-all row).
        roll = rnd.random()
        if roll < (0.65 if mix == "specific" else 0.55):
            sku = _q(f"SKU{rnd.randrange(shape.skus)}")
        elif roll < (0.80 if mix == "specific" else 0.70):
            sku = ", ".join(_q(f"SKU{rnd.randrange(shape.skus)}") for _ in range(rnd.randint(2, 4)))
        else:
            sku = "-"
        roll = rnd.random()
        if (sku == "-" and mix == "specific") or roll < 0.15:
            postcode = _q(rnd.choice(shape.postcodes))
        elif roll < 0.25:
            postcode = ", ".join(_q(p) for p in rnd.sample(shape.postcodes, 3))
        else:
            postcode = "-"
        # reason: a list, a single value, or any
        roll = rnd.random()
        if roll < 0.35:
            reason = ", ".join(_q(r) for r in rnd.sample(REASONS, rnd.randint(2, 3)))
        elif roll < 0.55:
            reason = _q(rnd.choice(REASONS))
        else:
            reason = "-"
        # total: a range, a one-sided comparison, or any
        roll = rnd.random()
        low = rnd.randrange(0, 90_000, 500)
        if roll < 0.35:
            high = low + rnd.randrange(1_000, 30_000, 500)
            total = f"[{low}..{high}]" if rnd.random() < 0.5 else f"[{low}..{high})"
        elif roll < 0.65:
            total = f"{rnd.choice(['>', '>=', '<', '<='])} {low}"
        else:
            total = "-"
        # customer.orders: mostly any
        roll = rnd.random()
        if roll < 0.15:
            orders = f">= {rnd.randint(2, 10)}"
        elif roll < 0.25:
            orders = f"[1..{rnd.randint(1, 3)}]"
        else:
            orders = "-"
        rows.append([sku, postcode, reason, total, orders, _q(f"r{i}")])
    if policy == "FIRST":
        rows.append(["-", "-", "-", "-", "-", _q("default")])
    return rows


def make_events(shape: Shape, count: int, seed: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    events = []
    for _ in range(count):
        events.append(
            {
                "order": {
                    "id": f"#{rnd.randrange(10**6)}",
                    "sku": f"SKU{rnd.randrange(int(shape.skus * 1.2))}",
                    "postcode": rnd.choice(shape.postcodes),
                    "total": rnd.randrange(0, 100_000, 100),
                },
                "return": {"reason": rnd.choice(REASONS)},
                "customer": {"orders": rnd.randint(1, 12)},
            }
        )
    return events


def workbook_bytes(name: str, policy: str, rows: list[list[str]]) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(name)
    sheet.append(["Table", name])
    sheet.append(["Trigger", TRIGGER])
    sheet.append(["Hit policy", policy])
    sheet.append([])
    sheet.append([f"when {w}" for w in WHENS] + ["then outcome"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def jdm(name: str, policy: str, rows: list[list[str]]) -> dict[str, Any]:
    """The same table as a GoRules JDM decision: input node → decision table → output node."""
    inputs = [{"id": f"i{k}", "name": w, "field": w} for k, w in enumerate(WHENS)]
    outputs = [{"id": "o0", "name": "outcome", "field": "outcome"}]
    rules = []
    for n, row in enumerate(rows):
        rule: dict[str, str] = {"_id": f"r{n}"}
        for k, cell in enumerate(row[: len(WHENS)]):
            rule[f"i{k}"] = "" if cell == "-" else cell
        rule["o0"] = row[len(WHENS)]
        rules.append(rule)
    return {
        "contentType": "application/vnd.gorules.decision",
        "nodes": [
            {"id": "in", "type": "inputNode", "name": "request", "position": {"x": 0, "y": 0}},
            {
                "id": "table",
                "type": "decisionTableNode",
                "name": name,
                "position": {"x": 300, "y": 0},
                "content": {
                    "hitPolicy": policy.lower(),
                    "inputs": inputs,
                    "outputs": outputs,
                    "rules": rules,
                },
            },
            {"id": "out", "type": "outputNode", "name": "response", "position": {"x": 600, "y": 0}},
        ],
        "edges": [
            {"id": "e1", "sourceId": "in", "targetId": "table", "type": "edge"},
            {"id": "e2", "sourceId": "table", "targetId": "out", "type": "edge"},
        ],
    }


# --------------------------------------------------------------------------- engines


def normalize_runbook(policy: str, outputs: dict[str, Any]) -> Any:
    if policy == "COLLECT":
        return list(outputs.get("outcome", []))
    return outputs.get("outcome")


def normalize_zen(policy: str, result: Any) -> Any:
    if policy == "COLLECT":
        return [item.get("outcome") for item in result or []]
    return (result or {}).get("outcome")


@dataclass
class Engines:
    policy: str
    rs: tables.RuleSet
    zen_decision: Any

    def compiled(self, data: dict[str, Any]) -> Any:
        return self.rs.decide(TRIGGER, data)

    def reference(self, data: dict[str, Any]) -> Any:
        return reference.decide(self.rs, TRIGGER, data)

    def zen(self, data: dict[str, Any]) -> Any:
        return self.zen_decision.evaluate(data)

    def answers(self, data: dict[str, Any]) -> tuple[Any, Any, Any]:
        return (
            normalize_runbook(self.policy, self.compiled(data).outputs),
            normalize_runbook(self.policy, self.reference(data).outputs),
            normalize_zen(self.policy, self.zen(data)["result"]),
        )


def verify(engines: Engines, events: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """How many sample events all three engines decided alike, and the first disagreements."""
    problems = []
    agreed = 0
    for data in events:
        compiled, ref, zen_answer = engines.answers(data)
        if compiled == ref == zen_answer:
            agreed += 1
        elif len(problems) < 3:
            problems.append(
                f"    event {json.dumps(data, ensure_ascii=False)}\n"
                f"      compiled={compiled!r} reference={ref!r} zen={zen_answer!r}"
            )
    return agreed, problems


def rate(
    fn: Callable[[dict[str, Any]], Any], events: list[dict[str, Any]], budget: float
) -> tuple[float, int]:
    """Decisions per second over the events, stopping early once `budget` seconds are spent."""
    for data in events[:20]:  # warm-up
        fn(data)
    done = 0
    start = time.perf_counter()
    deadline = start + budget
    for data in events:
        fn(data)
        done += 1
        if done % 200 == 0 and time.perf_counter() > deadline:
            break
    elapsed = time.perf_counter() - start
    return done / elapsed, done


# --------------------------------------------------------------------------- main


def run(
    size: int, policy: str, mix: str, args: argparse.Namespace, import_zen: Any
) -> dict[str, Any]:
    shape = make_shape(size, args.seed)
    rows = make_rows(shape, policy, args.seed, mix)
    name = f"t{size}_{policy.lower()}_{mix}"
    data = workbook_bytes(name, policy, rows)

    start = time.perf_counter()
    rs = tables.load_workbook(data)
    load_seconds = time.perf_counter() - start

    start = time.perf_counter()
    engine = import_zen.ZenEngine()
    zen_decision = engine.create_decision(json.dumps(jdm(name, policy, rows), ensure_ascii=False))
    zen_load = time.perf_counter() - start

    events = make_events(shape, args.events, args.seed)
    engines = Engines(policy, rs, zen_decision)
    sample = events[: args.verify]
    agreed, problems = verify(engines, sample)

    compiled_rate, compiled_n = rate(engines.compiled, events, args.budget)
    reference_rate, reference_n = rate(engines.reference, events, args.budget)
    zen_rate, zen_n = rate(engines.zen, events, args.budget)
    if policy == "COLLECT":
        found = [len(normalize_runbook(policy, rs.decide(TRIGGER, d).outputs)) for d in sample]
        matches = f"{sum(found) / max(len(found), 1):.1f} rows match an event on average"
    else:
        rows_hit = [rs.decide(TRIGGER, d).trace[0].row for d in sample]
        specific = sum(1 for r in rows_hit if int(r.rsplit("!", 1)[1]) != 5 + len(rows))
        matches = f"{specific / max(len(sample), 1):.0%} of events match a row before the default"
    rs.close()
    return {
        "rows": size,
        "policy": policy,
        "mix": mix,
        "xlsx_bytes": len(data),
        "load_seconds": load_seconds,
        "zen_load_seconds": zen_load,
        "warnings": len(rs.warnings),
        "verified": len(sample),
        "agreed": agreed,
        "problems": problems,
        "matches": matches,
        "compiled": (compiled_rate, compiled_n),
        "reference": (reference_rate, reference_n),
        "zen": (zen_rate, zen_n),
    }


def target(r: dict[str, Any]) -> str:
    if r["rows"] not in TARGETS:
        return ""
    goal = TARGETS[r["rows"]]
    met = "met" if r["compiled"][0] / r["zen"][0] >= goal else "NOT met"
    return f"  (target >= {goal:g}x zen: {met})"


def report(r: dict[str, Any]) -> bool:
    """Prints one table's figures; True when the engines disagreed."""
    c, ref, z = r["compiled"][0], r["reference"][0], r["zen"][0]
    print(
        f"\n{r['mix']} mix, {r['rows']:,} rows, {r['policy']}: load+validate+compile "
        f"{r['load_seconds']:.2f} s (xlsx {r['xlsx_bytes'] / 1024:,.0f} KiB, "
        f"{r['warnings']} warnings; zen create_decision {r['zen_load_seconds']:.2f} s); "
        f"{r['matches']}"
    )
    status = "all agree" if r["agreed"] == r["verified"] else "DISAGREE"
    print(f"  agreement on {r['verified']:,} events: {r['agreed']:,} ({status})")
    for line in r["problems"]:
        print(line)
    for label in ("compiled", "reference", "zen"):
        value, n = r[label]
        print(f"  {label:<10} {value:>10,.0f} decisions/s  ({n:,} events)")
    print(f"  compiled/zen {c / z:6.1f}x   compiled/reference {c / ref:6.1f}x{target(r)}")
    return r["agreed"] != r["verified"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per table (20,000)")
    parser.add_argument("--quick", action="store_true", help="2,000 events, 3 s budget each")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per engine and table")
    parser.add_argument("--verify", type=int, default=1_000, help="events checked for agreement")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sizes", default="50,1000,5000")
    parser.add_argument("--policies", default="FIRST,COLLECT")
    parser.add_argument(
        "--mixes", default="specific,broad", help="row mixes: specific (keyed rows), broad"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.events = min(args.events, 2_000)
        args.budget = min(args.budget, 3.0)
        args.verify = min(args.verify, 300)
    args.verify = min(args.verify, args.events)
    try:
        import zen
    except ImportError:
        print("zen-engine is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2

    import importlib.metadata as md

    print(
        f"tables_bench: {args.events:,} events per table (seed {args.seed}), "
        f"budget {args.budget:g} s per engine; Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU(s), zen-engine {md.version('zen-engine')}, "
        f"durable_rules {md.version('durable_rules')}"
    )
    results = []
    failed = False
    combos = [
        (mix, size, policy)
        for mix in args.mixes.split(",")
        for size in [int(s) for s in args.sizes.split(",")]
        for policy in args.policies.split(",")
    ]
    for mix, size, policy in combos:
        r = run(size, policy, mix, args, zen)
        results.append(r)
        failed |= report(r)
    print("\nsummary (decisions/s)")
    for r in results:
        c, ref, z = r["compiled"][0], r["reference"][0], r["zen"][0]
        print(
            f"  {r['mix']:<8} {r['rows']:>5} {r['policy']:<7} compiled {c:>8,.0f}  "
            f"reference {ref:>7,.0f}  zen {z:>7,.0f}  compiled/zen {c / z:5.1f}x  "
            f"compiled/reference {c / ref:5.1f}x{target(r)}"
        )
    largest = max(r["rows"] for r in results)
    for r in results:
        if r["rows"] == largest:
            met = "met" if r["load_seconds"] < LOAD_TARGET_SECONDS else "NOT met"
            print(
                f"  load+validate+compile {largest:,} rows {r['policy']} ({r['mix']} mix): "
                f"{r['load_seconds']:.2f} s (target < {LOAD_TARGET_SECONDS:g} s: {met})"
            )
    if failed:
        print(
            "\nengines DISAGREE on some events: figures above are not comparable", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
