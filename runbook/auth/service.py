"""API keys: create (the key is returned once), authenticate by hash, revoke, bootstrap admin."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from runbook import audit
from runbook.auth.models import ApiKey
from runbook.auth.principal import ADMIN, ROLES, Principal
from runbook.errors import BadRequest, NotFound

KEY_PREFIX = "rbk_"
BOOTSTRAP_KEY_ID = "key_bootstrap_admin"
BOOTSTRAP_NAME = "bootstrap-admin"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_key(
    *, session: Session, name: str, roles: list[str], created_by: str
) -> tuple[ApiKey, str]:
    """A new key: returns the stored row and the key itself (not stored anywhere)."""
    unknown = sorted(set(roles) - ROLES)
    if unknown or not roles:
        raise BadRequest(f"unknown roles: {', '.join(unknown)}" if unknown else "roles are empty")
    key = new_key()
    row = ApiKey(
        id="key_" + secrets.token_hex(8),
        name=name,
        roles=sorted(set(roles)),
        key_hash=hash_key(key),
        prefix=key[:10],
        created_at=datetime.now(UTC),
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    audit.append(session=session, actor=created_by, kind="key.created", subject=row.id,
                 data={"name": name, "roles": row.roles})
    return row, key


def authenticate(*, session: Session, key: str) -> Principal | None:
    """The principal of a valid, unrevoked key; None otherwise."""
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    return Principal(key_id=row.id, name=row.name, roles=frozenset(row.roles))


def list_keys(*, session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def revoke_key(*, session: Session, key_id: str, actor: str) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"no key {key_id!r}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        audit.append(session=session, actor=actor, kind="key.revoked", subject=key_id,
                     data={"name": row.name})
    return row


def upsert_bootstrap_admin(*, session: Session, key: str) -> None:
    """Makes `key` (RUNBOOK_BOOTSTRAP_ADMIN_KEY) a valid admin key: inserts or refreshes its row.
    Safe when several replicas start at once."""
    values = {
        "id": BOOTSTRAP_KEY_ID,
        "name": BOOTSTRAP_NAME,
        "roles": [ADMIN],
        "key_hash": hash_key(key),
        "prefix": key[:10],
        "created_at": datetime.now(UTC),
        "created_by": None,
        "revoked_at": None,
    }
    existing = session.get(ApiKey, BOOTSTRAP_KEY_ID)
    if existing is not None and existing.key_hash == values["key_hash"]:
        if existing.revoked_at is not None or existing.roles != [ADMIN]:
            session.execute(update(ApiKey).where(ApiKey.id == BOOTSTRAP_KEY_ID)
                            .values(revoked_at=None, roles=[ADMIN]))
        return
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(ApiKey).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[ApiKey.id],
        set_={"key_hash": values["key_hash"], "prefix": values["prefix"], "roles": [ADMIN],
              "revoked_at": None},
    )
    session.execute(statement)
    audit.append(session=session, actor="system", kind="key.bootstrap", subject=BOOTSTRAP_KEY_ID,
                 data={"name": BOOTSTRAP_NAME, "rotated": existing is not None})
