"""The `runbook` command: work with workbooks from a terminal, and start the services."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

import tables

app = typer.Typer(
    help="Runbook: decision tables in a spreadsheet, run as a rules service.",
    no_args_is_help=True,
    add_completion=False,
)

FileArg = Annotated[
    Path,
    typer.Argument(
        help="A workbook: .xlsx, .csv or .json", exists=True, dir_okay=False, readable=True
    ),
]


def _load(path: Path) -> tables.RuleSet:
    try:
        return tables.load(path.read_bytes(), path.name, name=path.stem)
    except tables.WorkbookError as error:
        _print_problems(error.problems)
        typer.secho(f"{path}: {len(error.problems)} error(s)", fg="red", err=True)
        raise typer.Exit(1) from None


def _print_problems(problems: list[tables.Problem]) -> None:
    for problem in problems:
        colour = "red" if problem.severity == "error" else "yellow"
        typer.secho(f"{problem.severity:7} {problem}", fg=colour, err=True)


@app.command()
def validate(file: FileArg) -> None:
    """Check a workbook: errors and warnings with cell references; exit 1 on errors."""
    rs = _load(file)
    _print_problems(rs.warnings)
    rows = sum(len(t.rules) for t in rs.tables)
    typer.secho(
        f"{file}: OK — {len(rs.tables)} table(s), {rows} row(s), "
        f"{len(rs.warnings)} warning(s); triggers: {', '.join(sorted(rs.triggers))}",
        fg="green",
    )


@app.command("test")
def run_tests(file: FileArg) -> None:
    """Run the workbook's _tests sheet; exit 1 when a case fails."""
    rs = _load(file)
    failures = rs.run_tests()
    _print_problems(failures)
    passed = len(rs.tests) - len(failures)
    typer.echo(f"{passed} passed, {len(failures)} failed")
    if failures:
        raise typer.Exit(1)


@app.command()
def decide(
    file: FileArg,
    event: Annotated[
        str,
        typer.Option(
            help='The event as JSON: {"type": ..., "data": {...}}, or @file.json, or - for stdin'
        ),
    ],
) -> None:
    """Decide one event with a workbook and print the decision as JSON."""
    rs = _load(file)
    document = _read_json(event)
    trigger = document.get("type")
    if not isinstance(trigger, str):
        typer.secho('the event needs a "type"', fg="red", err=True)
        raise typer.Exit(2)
    try:
        decision = rs.decide(trigger, document.get("data") or {})
    except tables.DecisionError as error:
        typer.secho(str(error), fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(decision.to_dict(), ensure_ascii=False, indent=2))


@app.command()
def export(
    file: FileArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write")],
    as_json: Annotated[bool, typer.Option("--json", help="Write the normalized JSON form")] = False,
) -> None:
    """Write the normalized form of a workbook (.xlsx, or JSON with --json)."""
    rs = _load(file)
    if as_json:
        output.write_text(json.dumps(rs.to_json(), ensure_ascii=False, indent=2))
    else:
        output.write_bytes(tables.export_workbook(rs))
    typer.echo(f"wrote {output}")


@app.command()
def diff(
    old: FileArg,
    new: FileArg,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the structured diff as JSON")
    ] = False,
) -> None:
    """Show what changed between two workbooks: tables, rows and cells."""
    changes = tables.diff(_load(old).to_json(), _load(new).to_json())
    if as_json:
        typer.echo(json.dumps(changes, ensure_ascii=False, indent=2))
        return
    for line in _diff_lines(changes):
        typer.echo(line)


def _diff_lines(changes: dict[str, Any]) -> list[str]:
    if changes.get("identical"):
        return ["no changes"]
    lines = [f"+ table {t['table']} ({t['rows']} rows)" for t in changes["tables_added"]]
    lines += [f"- table {t['table']}" for t in changes["tables_removed"]]
    for table in changes["tables_changed"]:
        lines.append(f"~ table {table['table']}")
        lines += [f"    ~ {m['field']}: {m['from']!r} -> {m['to']!r}" for m in table["metadata"]]
        lines += [f"    + column {c}" for c in table["columns_added"]]
        lines += [f"    - column {c}" for c in table["columns_removed"]]
        lines += [f"    + row {r['ref']}: {_cells(r['cells'])}" for r in table["rows_added"]]
        lines += [f"    - row {r['ref']}: {_cells(r['cells'])}" for r in table["rows_removed"]]
        for row in table["rows_changed"]:
            cells = ", ".join(f"{c['column']}: {c['from']!r} -> {c['to']!r}" for c in row["cells"])
            lines.append(f"    ~ row {row['ref']}: {cells}")
        lines += [f"    > row {r['from_row']} moved to {r['to_row']}" for r in table["rows_moved"]]
    return lines


def _cells(cells: dict[str, str]) -> str:
    return ", ".join(f"{column} {text}" for column, text in cells.items() if text)


ApiUrl = Annotated[str, typer.Option(envvar="RUNBOOK_URL", help="rules_service URL")]
ApiKey = Annotated[str, typer.Option(envvar="RUNBOOK_KEY", help="API key (or RUNBOOK_KEY)")]


@app.command()
def upload(
    file: FileArg,
    ruleset: Annotated[str, typer.Option(help="Ruleset name (default: the file name)")] = "",
    url: ApiUrl = "http://127.0.0.1:8000",
    key: ApiKey = "",
) -> None:
    """Upload a workbook to a running rules_service as a new draft version, with progress."""
    import httpx
    from rich.progress import Progress

    data = file.read_bytes()
    kinds = {".xlsx": tables.ruleset.XLSX_TYPES[0], ".csv": "text/csv", ".json": "application/json"}
    content_type = kinds.get(file.suffix.lower(), "application/octet-stream")

    def chunks(progress: Progress, task: Any) -> Any:
        for start in range(0, len(data), 64 * 1024):
            progress.update(task, advance=len(data[start : start + 64 * 1024]))
            yield data[start : start + 64 * 1024]

    with Progress(transient=True) as progress:
        task = progress.add_task(f"uploading {file.name}", total=len(data))
        response = httpx.put(f"{url}/v1/rulesets/{ruleset or file.stem}",
                             content=chunks(progress, task), timeout=300,
                             headers={"Authorization": f"Bearer {key}",
                                      "Content-Type": content_type,
                                      "Content-Length": str(len(data))})
    body = _answer(response)
    typer.secho(f"{body['ruleset']} version {body['version']} ({body['status']}), "
                f"{len(body.get('warnings', []))} warning(s), sha256 {body['sha256'][:12]}…",
                fg="green")


@app.command("import")
def import_events(
    file: Annotated[Path, typer.Argument(help="Events as JSON lines (one event a line) or a "
                                              "JSON array", exists=True, dir_okay=False)],
    url: ApiUrl = "http://127.0.0.1:8000",
    key: ApiKey = "",
    batch: Annotated[int, typer.Option(help="Events per request")] = 250,
) -> None:
    """Post many events through events:batch, with progress; duplicates are harmless."""
    import httpx
    from rich.progress import Progress

    events = _read_events(file)
    decided = duplicates = failed = 0
    with httpx.Client(base_url=url, timeout=300,
                      headers={"Authorization": f"Bearer {key}"}) as client, Progress() as progress:
        task = progress.add_task(f"importing {file.name}", total=len(events))
        for start in range(0, len(events), batch):
            chunk = events[start : start + batch]
            results = _answer(client.post("/v1/events:batch", json={"events": chunk}))["results"]
            failed += sum(1 for r in results if r.get("error"))
            duplicates += sum(1 for r in results if r.get("duplicate"))
            decided += sum(1 for r in results if not r.get("error") and not r.get("duplicate"))
            progress.update(task, advance=len(chunk))
    typer.echo(f"{decided} decided, {duplicates} already known, {failed} failed")
    if failed:
        raise typer.Exit(1)


def _read_events(file: Path) -> list[dict[str, Any]]:
    text = file.read_text()
    try:
        if text.lstrip().startswith("["):
            events = json.loads(text)
        else:
            events = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        typer.secho(f"{file}: not valid JSON ({error})", fg="red", err=True)
        raise typer.Exit(2) from None
    return list(events)


def _answer(response: Any) -> Any:
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text}
        typer.secho(f"{response.status_code}: {body.get('message', body)}", fg="red", err=True)
        for detail in body.get("details") or []:
            if isinstance(detail, dict) and "where" in detail:
                typer.secho(f"  {detail['where']}: {detail['message']}", fg="red", err=True)
        raise typer.Exit(1)
    return response.json()


@app.command()
def template(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Default: stdout")] = None,
) -> None:
    """Write a workbook template for ops (runbook template > policy.xlsx)."""
    from .template import template_workbook

    data = template_workbook()
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="rules_service port")] = 8000,
    action_port: Annotated[int, typer.Option(help="action_service port")] = 8001,
    once: Annotated[bool, typer.Option("--once", help="Exit after printing the decisions")] = False,
    data_dir: Annotated[Path | None, typer.Option(help="Keep the SQLite database here")] = None,
) -> None:
    """Run Runbook end to end on this machine: fake connectors, example workbook, sample
    events, and what was decided and carried out. Ctrl-C stops everything."""
    from .demo import run_demo

    examples = Path(__file__).resolve().parent.parent / "examples"
    run_demo(
        workbook=examples / "returns.xlsx",
        events=examples / "events.json",
        port=port,
        action_port=action_port,
        keep_running=not once,
        data_dir=data_dir,
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: RUNBOOK_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Default: RUNBOOK_PORT or 8000")] = None,
) -> None:
    """Run rules_service (same as python -m rules_service)."""
    from rules_service.__main__ import main

    main(_flags(host=host, port=port))


@app.command()
def worker() -> None:
    """Run an action worker without HTTP (same as python -m action_service --worker-only)."""
    from action_service.__main__ import main

    main(["--worker-only"])


keys_app = typer.Typer(help="API keys, created directly in the database (RUNBOOK_DATABASE_URL).")
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def create_key(
    name: Annotated[str, typer.Option(help="Who or what uses the key (shown in the audit log)")],
    role: Annotated[list[str], typer.Option(help="ops, approver, auditor, service or admin")],
) -> None:
    """Create an API key and print it (it is shown once)."""
    from runbook.auth.service import create_key as create
    from runbook.db import make_engine, make_session_factory, migrate, resolve_database_url
    from runbook.errors import RunbookError
    from runbook.settings import Settings

    url = resolve_database_url(Settings())
    migrate(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            row, key = create(session=session, name=name, roles=role, created_by="cli")
    except RunbookError as error:
        typer.secho(error.message, fg="red", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(json.dumps({"id": row.id, "name": row.name, "roles": row.roles, "key": key}))


def _flags(**options: Any) -> list[str]:
    return [f for k, v in options.items() if v is not None for f in (f"--{k}", str(v))]


def _read_json(text: str) -> dict[str, Any]:
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        text = Path(text[1:]).read_text()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        typer.secho(f"not valid JSON: {error}", fg="red", err=True)
        raise typer.Exit(2) from None
    if not isinstance(document, dict):
        typer.secho("expected a JSON object", fg="red", err=True)
        raise typer.Exit(2)
    return document


if __name__ == "__main__":
    app()
