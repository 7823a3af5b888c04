"""Random decision tables and events for property tests (hypothesis strategies)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

POLICIES = [
    "UNIQUE",
    "FIRST",
    "PRIORITY",
    "ANY",
    "COLLECT",
    "RULE ORDER",
    "COLLECT SUM",
    "COLLECT MIN",
    "COLLECT MAX",
    "COLLECT COUNT",
]
PATHS = ["order.a", "order.b", "order.c"]
NUMBERS = ["-2", "-1", "0", "1", "1.5", "2", "3"]
TEXTS = ["a", "b", "破損"]
DATES = ["2026-01-01", "2026-01-02", "2026-01-03"]


@st.composite
def numeric_cell(draw: Any) -> str:
    n = draw(st.sampled_from(NUMBERS))
    m = draw(st.sampled_from(NUMBERS))
    lo, hi = sorted([n, m], key=float)
    template = draw(
        st.sampled_from(
            [
                "-",
                "",
                "{n}",
                "> {n}",
                ">= {n}",
                "< {n}",
                "<= {n}",
                "= {n}",
                "[{lo}..{hi}]",
                "({lo}..{hi}]",
                "[{lo}..{hi})",
                "({lo}..{hi})",
                "{lo}, {hi}",
                "not({n})",
                "not([{lo}..{hi}])",
                "!= {n}",
                "null",
                "> order.x",
                "<= {n} + order.x",
                "[{lo}..{hi}], > {n}",
                "{n}, {m}, 9",
                "= order.x",
            ]
        )
    )
    return template.format(n=n, m=m, lo=lo, hi=hi)


@st.composite
def text_cell(draw: Any) -> str:
    s, t = draw(st.sampled_from(TEXTS)), draw(st.sampled_from(TEXTS))
    template = draw(
        st.sampled_from(
            [
                "-",
                "",
                '"{s}"',
                "{s}",
                '"{s}", "{t}"',
                'not("{s}")',
                '!= "{s}"',
                "null",
                "true",
                "false",
                '"{s}", true',
                "= order.y",
            ]
        )
    )
    return template.format(s=s, t=t)


@st.composite
def date_cell(draw: Any) -> str:
    d, e = sorted([draw(st.sampled_from(DATES)), draw(st.sampled_from(DATES))])
    template = draw(
        st.sampled_from(
            [
                "-",
                '>= date("{d}")',
                '< date("{d}")',
                'date("{d}")',
                '[date("{d}")..date("{e}")]',
                '(date("{d}")..date("{e}")]',
                "null",
            ]
        )
    )
    return template.format(d=d, e=e)


FAMILIES = {"number": numeric_cell, "text": text_cell, "date": date_cell}


@st.composite
def ruleset_doc(draw: Any, max_rows: int = 12) -> dict[str, Any]:
    policy = draw(st.sampled_from(POLICIES))
    n_cols = draw(st.integers(1, 3))
    families = [draw(st.sampled_from(list(FAMILIES))) for _ in range(n_cols)]
    n_rows = draw(st.integers(0, max_rows))
    columns = [{"kind": "when", "name": PATHS[i], "letter": chr(65 + i)} for i in range(n_cols)]
    columns.append({"kind": "then", "name": "out", "letter": chr(65 + n_cols)})
    columns.append({"kind": "do", "name": "tag_order", "letter": chr(66 + n_cols)})
    with_priority = policy == "PRIORITY"
    if with_priority:
        columns.append({"kind": "priority", "name": "", "letter": chr(67 + n_cols)})
    rules = []
    for r in range(n_rows):
        cells = [draw(FAMILIES[f]()) for f in families]
        out = draw(st.sampled_from([str(r), "1", "order.x", "-"]))
        cells.append(out)
        cells.append(draw(st.sampled_from(["-", "x", f'tags="r{r}"'])))
        if with_priority:
            cells.append(str(draw(st.integers(0, 3))))
        rules.append({"row": 3 + r, "cells": cells})
    return {
        "tables": [
            {
                "name": "t",
                "sheet": "t",
                "triggers": ["e"],
                "hit_policy": policy,
                "header_row": 2,
                "columns": columns,
                "rules": rules,
            }
        ],
    }


VALUES = st.one_of(
    st.none(),
    st.sampled_from([-2, -1, 0, 1, 2, 3, 1.5, 0.5, 2.0, 9, 10**20, -(10**20)]),
    st.sampled_from(["-1", "1", "1.5", "2.0", " 3 ", "1e1"]),
    st.sampled_from(TEXTS + ["c", ""]),
    st.booleans(),
    st.sampled_from(DATES + ["2025-12-31", "2026-01-02T23:00:00+09:00", "2026-01-05"]),
    st.floats(allow_nan=True, allow_infinity=True),
)


@st.composite
def event_data(draw: Any) -> dict[str, Any]:
    order = {}
    for key in ("a", "b", "c", "x", "y"):
        if draw(st.booleans()):
            order[key] = draw(VALUES)
    return {"order": order}
