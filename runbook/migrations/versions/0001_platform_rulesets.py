"""Platform and rulesets: audit log, API keys, rulesets, versions, approvals, publications.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
GENESIS_HASH = "0" * 64


def upgrade() -> None:
    _audit()
    _api_keys()
    _rulesets()


def _audit() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", BigId, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("ruleset", sa.String(200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("order_id", sa.String(200), nullable=True),
        sa.Column("action_id", sa.String(120), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
        sa.UniqueConstraint("hash", name="uq_audit_log_hash"),
    )
    op.create_index("ix_audit_log_kind_seq", "audit_log", ["kind", "seq"])
    op.create_index("ix_audit_log_ruleset_version", "audit_log", ["ruleset", "version"])
    op.create_index("ix_audit_log_run_id", "audit_log", ["run_id"])
    op.create_index("ix_audit_log_order_id", "audit_log", ["order_id"])
    op.create_index("ix_audit_log_action_id", "audit_log", ["action_id"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", BigId, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
    )
    op.bulk_insert(head, [{"id": 1, "last_seq": 0, "last_hash": GENESIS_HASH}])


def _api_keys() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )


def _rulesets() -> None:
    op.create_table(
        "rulesets",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=True),
        sa.Column("current_percent", sa.Integer(), nullable=False),
        sa.Column("previous_version", sa.Integer(), nullable=True),
        sa.Column("live_history", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_rulesets"),
    )
    _versions()
    _approvals()
    _publications()
    generation = op.create_table(
        "live_generation",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_live_generation"),
    )
    op.bulk_insert(generation, [{"id": 1, "generation": 0}])


def _versions() -> None:
    op.create_table(
        "ruleset_versions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("ruleset", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("author_key_id", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("normalized", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("test_failures", sa.JSON(), nullable=False),
        sa.Column("triggers", sa.JSON(), nullable=False),
        sa.Column("moves_money", sa.Boolean(), nullable=False),
        sa.Column("table_count", sa.Integer(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("first_live_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ruleset_versions"),
        sa.ForeignKeyConstraint(["ruleset"], ["rulesets.name"],
                                name="fk_ruleset_versions_ruleset_rulesets"),
        sa.UniqueConstraint("ruleset", "version", name="uq_ruleset_versions_ruleset_version"),
        sa.UniqueConstraint("ruleset", "sha256", name="uq_ruleset_versions_ruleset_sha256"),
    )


def _approvals() -> None:
    op.create_table(
        "ruleset_approvals",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("ruleset", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(200), nullable=False),
        sa.Column("approver_key_id", sa.String(40), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ruleset_approvals"),
        sa.ForeignKeyConstraint(
            ["ruleset", "version"],
            ["ruleset_versions.ruleset", "ruleset_versions.version"],
            name="fk_ruleset_approvals_version",
        ),
        sa.UniqueConstraint("ruleset", "version", "approver_key_id",
                            name="uq_ruleset_approvals_key"),
    )


def _publications() -> None:
    op.create_table(
        "ruleset_publications",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("ruleset", sa.String(100), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("previous_version", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ruleset_publications"),
        sa.ForeignKeyConstraint(["ruleset"], ["rulesets.name"],
                                name="fk_ruleset_publications_ruleset_rulesets"),
    )
    op.create_index("ix_ruleset_publications_ruleset", "ruleset_publications", ["ruleset", "id"])


def downgrade() -> None:
    for table in ("live_generation", "ruleset_publications", "ruleset_approvals",
                  "ruleset_versions", "rulesets", "api_keys", "audit_head", "audit_log"):
        op.drop_table(table)
