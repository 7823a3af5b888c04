"""Rulesets: upload immutable versions, approve, publish gradually, roll back, diff, export.

Every function takes the caller's session and joins its transaction (the caller commits);
every change is written to the audit log, and publication changes bump `live_generation`
and notify the replicas after commit.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

import tables
from rules_service.rulesets.models import (
    Approval,
    LiveGeneration,
    Publication,
    Ruleset,
    RulesetVersion,
)
from rules_service.rulesets.rollout import PublicationState
from runbook import audit
from runbook.auth import Principal
from runbook.errors import Conflict, Forbidden, NotFound, Unprocessable, UnsupportedMediaType

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
CONTENT_TYPES = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/csv": "csv",
    "application/json": "json",
}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def extension(media: str) -> str:
    return "." + CONTENT_TYPES.get(media, "bin")


class Notifier(Protocol):
    def changed(self, session: Session, message: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Upload:
    version: RulesetVersion
    created: bool


# ---------------------------------------------------------------------------------- upload


def media_type(content_type: str | None) -> str:
    """The accepted media type of a Content-Type header, or 415."""
    base = (content_type or "").split(";")[0].strip().lower()
    if base not in CONTENT_TYPES:
        raise UnsupportedMediaType(
            f"unsupported content type {base or '(none)'!r}",
            details={"accepted": sorted(CONTENT_TYPES)},
        )
    return base


def check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise Unprocessable(
            f"invalid ruleset name {name!r}: letters, digits, '_', '.', '-' (at most 100)"
        )


def upload(
    *, session: Session, name: str, content: bytes, content_type: str, author: Principal,
    notifier: Notifier | None = None,
) -> Upload:
    """A new draft version of `name` from workbook bytes; the existing version when these bytes
    were uploaded before. Invalid workbooks raise Unprocessable with every problem."""
    check_name(name)
    media = media_type(content_type)
    digest = hashlib.sha256(content).hexdigest()
    existing = _by_sha(session, name, digest)
    if existing is not None:
        return Upload(existing, created=False)
    rules = _parse(content, media, name)
    try:
        test_failures = rules.run_tests()
        _lock_ruleset(session, name, author.actor)
        existing = _by_sha(session, name, digest)
        if existing is not None:
            return Upload(existing, created=False)
        row = _new_version(session, name, content, media, digest, rules, test_failures, author)
    finally:
        rules.close()
    audit.append(session=session, actor=author.actor, kind="ruleset.uploaded", subject=name,
                 ruleset=name, version=row.version,
                 data={"sha256": digest, "size": len(content), "content_type": media,
                       "warnings": len(row.warnings), "test_failures": len(test_failures),
                       "moves_money": row.moves_money})
    if notifier is not None:
        notifier.changed(session, {"action": "upload", "ruleset": name, "version": row.version})
    return Upload(row, created=True)


def _parse(content: bytes, media: str, name: str) -> tables.RuleSet:
    if not content:
        raise Unprocessable("the body is empty: send a workbook",
                            details=[_problem(tables.Problem("", "", "empty body"))])
    try:
        return tables.load(content, media, name=name)
    except tables.WorkbookError as error:
        raise Unprocessable(
            f"the workbook has {len(error.problems)} error(s)",
            details=[_problem(p) for p in error.problems],
        ) from None


def _problem(problem: tables.Problem) -> dict[str, str]:
    body = problem.to_dict()
    body["where"] = f"{problem.sheet}!{problem.cell}" if problem.cell else problem.sheet
    return body


def _new_version(
    session: Session,
    name: str,
    content: bytes,
    media: str,
    digest: str,
    rules: tables.RuleSet,
    test_failures: list[tables.Problem],
    author: Principal,
) -> RulesetVersion:
    latest = session.scalar(
        select(func.max(RulesetVersion.version)).where(RulesetVersion.ruleset == name)
    )
    row = RulesetVersion(
        ruleset=name,
        version=int(latest or 0) + 1,
        sha256=digest,
        author=author.actor,
        author_key_id=author.key_id,
        created_at=datetime.now(UTC),
        content_type=media,
        content=content,
        size=len(content),
        normalized=rules.to_json(),
        warnings=[_problem(p) for p in rules.warnings],
        test_failures=[_problem(p) for p in test_failures],
        triggers=sorted(rules.triggers),
        moves_money=rules.moves_money,
        table_count=len(rules.tables),
        row_count=sum(len(t.rules) for t in rules.tables),
    )
    session.add(row)
    session.flush()
    return row


def _by_sha(session: Session, name: str, digest: str) -> RulesetVersion | None:
    return session.scalars(
        select(RulesetVersion).where(RulesetVersion.ruleset == name,
                                     RulesetVersion.sha256 == digest)
    ).one_or_none()


def _lock_ruleset(session: Session, name: str, actor: str) -> Ruleset:
    """Creates the ruleset row when missing and locks it for the rest of the transaction (an
    UPDATE first: a row lock on PostgreSQL, the write lock on SQLite)."""
    now = datetime.now(UTC)
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(Ruleset)
        .values(name=name, created_at=now, created_by=actor, current_percent=0,
                live_history=[], updated_at=now)
        .on_conflict_do_nothing(index_elements=[Ruleset.name])
    )
    return _lock_existing(session, name)


def _lock_existing(session: Session, name: str) -> Ruleset:
    result = session.execute(
        update(Ruleset).where(Ruleset.name == name).values(updated_at=datetime.now(UTC))
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"no ruleset {name!r}")
    row = session.scalars(
        select(Ruleset).where(Ruleset.name == name).execution_options(populate_existing=True)
    ).one()
    return row


# ----------------------------------------------------------------------------------- reads


def get_ruleset(*, session: Session, name: str) -> Ruleset:
    row = session.get(Ruleset, name)
    if row is None:
        raise NotFound(f"no ruleset {name!r}")
    return row


def list_rulesets(*, session: Session) -> list[tuple[Ruleset, int | None]]:
    latest = (
        select(RulesetVersion.ruleset, func.max(RulesetVersion.version).label("latest"))
        .group_by(RulesetVersion.ruleset)
        .subquery()
    )
    rows = session.execute(
        select(Ruleset, latest.c.latest)
        .outerjoin(latest, latest.c.ruleset == Ruleset.name)
        .order_by(Ruleset.name)
    ).all()
    return [(row[0], row[1]) for row in rows]


def list_versions(*, session: Session, name: str) -> list[RulesetVersion]:
    get_ruleset(session=session, name=name)
    return list(
        session.scalars(
            select(RulesetVersion).where(RulesetVersion.ruleset == name)
            .order_by(RulesetVersion.version.desc())
        )
    )


def get_version(*, session: Session, name: str, version: int) -> RulesetVersion:
    row = session.scalars(
        select(RulesetVersion).where(RulesetVersion.ruleset == name,
                                     RulesetVersion.version == version)
    ).one_or_none()
    if row is None:
        raise NotFound(f"no version {version} of ruleset {name!r}")
    return row


def approvals_of(*, session: Session, name: str, versions: list[int]) -> dict[int, list[Approval]]:
    found: dict[int, list[Approval]] = {v: [] for v in versions}
    if not versions:
        return found
    rows = session.scalars(
        select(Approval).where(Approval.ruleset == name, Approval.version.in_(versions))
        .order_by(Approval.id)
    )
    for row in rows:
        found.setdefault(row.version, []).append(row)
    return found


def state_of(ruleset: Ruleset) -> PublicationState:
    return PublicationState(ruleset.current_version, ruleset.current_percent,
                            list(ruleset.live_history or []))


def status_of(version: RulesetVersion, state: PublicationState, approved: bool) -> str:
    if state.traffic(version.version) > 0:
        return "live"
    if version.first_live_at is not None:
        return "retired"
    return "approved" if approved else "draft"


# ------------------------------------------------------------------------------- approvals


def approve(
    *, session: Session, ruleset: str, version: int, approver: Principal,
    comment: str | None = None, notifier: Notifier | None = None,
) -> Approval:
    """Records an approval; the author may not approve their own version (403), nor a key
    approve twice (409)."""
    row = get_version(session=session, name=ruleset, version=version)
    if approver.key_id == row.author_key_id or approver.name == row.author:
        raise Forbidden("the author of a version cannot approve it")
    if _approved_by(session, ruleset, version, approver.key_id):
        raise Conflict(f"version {version} is already approved by this key")
    approval = Approval(ruleset=ruleset, version=version, approver=approver.actor,
                        approver_key_id=approver.key_id, comment=comment,
                        created_at=datetime.now(UTC))
    session.add(approval)
    session.flush()
    audit.append(session=session, actor=approver.actor, kind="ruleset.approved",
                 subject=ruleset, ruleset=ruleset, version=version,
                 data={"comment": comment, "author": row.author})
    if notifier is not None:
        notifier.changed(session, {"action": "approve", "ruleset": ruleset, "version": version})
    return approval


def _approved_by(session: Session, ruleset: str, version: int, key_id: str) -> bool:
    return (session.scalar(
        select(func.count()).select_from(Approval).where(
            Approval.ruleset == ruleset, Approval.version == version,
            Approval.approver_key_id == key_id)
    ) or 0) > 0


def _approved_by_other(session: Session, row: RulesetVersion) -> bool:
    return (session.scalar(
        select(func.count()).select_from(Approval).where(
            Approval.ruleset == row.ruleset, Approval.version == row.version,
            Approval.approver_key_id != row.author_key_id, Approval.approver != row.author)
    ) or 0) > 0


# -------------------------------------------------------------------------------- publishing


def publish(
    *, session: Session, ruleset: str, version: int, percent: int, actor: str,
    notifier: Notifier | None = None,
) -> Ruleset:
    """`version` takes `percent` % of the routing keys (100: fully live). Refused (409) while
    its `_tests` fail, or when it moves money without an approval by someone else."""
    row = get_version(session=session, name=ruleset, version=version)
    _check_publishable(session, row)
    locked = _lock_existing(session, ruleset)
    state = state_of(locked)
    before = (state.current, state.percent, state.previous)
    try:
        state.publish(version, percent)
    except ValueError as error:
        raise Conflict(str(error)) from None
    if row.first_live_at is None:
        row.first_live_at = datetime.now(UTC)
    _save_state(session, locked, state, action="publish", version=version, actor=actor)
    audit.append(session=session, actor=actor, kind="ruleset.published", subject=ruleset,
                 ruleset=ruleset, version=version,
                 data={"percent": percent, "previous_version": state.previous,
                       "before": {"current": before[0], "percent": before[1],
                                  "previous": before[2]}})
    _notify(session, notifier, locked, "publish")
    return locked


def _check_publishable(session: Session, row: RulesetVersion) -> None:
    if row.test_failures:
        raise Conflict(
            f"version {row.version} fails {len(row.test_failures)} _tests case(s)",
            details=row.test_failures,
        )
    if row.moves_money and not _approved_by_other(session, row):
        raise Conflict(
            f"version {row.version} can move money: an approver other than its author "
            "must approve it first"
        )


def rollback(
    *, session: Session, ruleset: str, actor: str, notifier: Notifier | None = None
) -> Ruleset:
    """The previous live version takes all traffic at once (409 when there is none)."""
    locked = _lock_existing(session, ruleset)
    state = state_of(locked)
    rolled_back = state.current
    try:
        target = state.rollback()
    except LookupError:
        raise Conflict(f"ruleset {ruleset!r} has no previous live version") from None
    _save_state(session, locked, state, action="rollback", version=target, actor=actor)
    audit.append(session=session, actor=actor, kind="ruleset.rolled_back", subject=ruleset,
                 ruleset=ruleset, version=target,
                 data={"rolled_back_version": rolled_back, "previous_version": state.previous})
    _notify(session, notifier, locked, "rollback")
    return locked


def _save_state(
    session: Session, ruleset: Ruleset, state: PublicationState, *, action: str, version: int,
    actor: str,
) -> None:
    ruleset.current_version = state.current
    ruleset.current_percent = state.percent
    ruleset.previous_version = state.previous
    ruleset.live_history = list(state.history)
    session.add(Publication(ruleset=ruleset.name, action=action, version=version,
                            percent=state.percent, previous_version=state.previous, actor=actor,
                            at=datetime.now(UTC)))
    session.execute(
        update(LiveGeneration).where(LiveGeneration.id == 1)
        .values(generation=LiveGeneration.generation + 1)
    )
    session.flush()


def _notify(session: Session, notifier: Notifier | None, ruleset: Ruleset, action: str) -> None:
    if notifier is None:
        return
    generation = session.scalar(select(LiveGeneration.generation).where(LiveGeneration.id == 1))
    notifier.changed(session, {
        "action": action,
        "ruleset": ruleset.name,
        "version": ruleset.current_version,
        "current_version": ruleset.current_version,
        "percent": ruleset.current_percent,
        "previous_version": ruleset.previous_version,
        "generation": generation,
    })


def publications(*, session: Session, ruleset: str) -> list[Publication]:
    get_ruleset(session=session, name=ruleset)
    return list(session.scalars(
        select(Publication).where(Publication.ruleset == ruleset).order_by(Publication.id)
    ))


# ----------------------------------------------------------------------------- diff, export


def diff(*, session: Session, ruleset: str, from_version: int, to_version: int) -> dict[str, Any]:
    old = get_version(session=session, name=ruleset, version=from_version)
    new = get_version(session=session, name=ruleset, version=to_version)
    return tables.diff(old.normalized, new.normalized)


@dataclass(frozen=True)
class Export:
    content: bytes
    media_type: str
    filename: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def export(*, session: Session, ruleset: str, version: int, fmt: str = "xlsx") -> Export:
    """The normalized form: an .xlsx (one layout whatever was uploaded) or its JSON."""
    row = get_version(session=session, name=ruleset, version=version)
    stem = f"{ruleset}-v{version}"
    if fmt == "json":
        body = json.dumps(row.normalized, ensure_ascii=False, separators=(",", ":"))
        return Export(body.encode("utf-8"), "application/json", f"{stem}.json")
    with tables.load_json(row.normalized) as rules:
        content = tables.export_workbook(rules)
    return Export(content, XLSX_TYPE, f"{stem}.xlsx")


