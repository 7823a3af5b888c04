"""events, runs, run_decisions, outbox (rules_service event intake)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(JSONB(), "postgresql")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    _events()
    _runs()
    _run_decisions()
    _outbox()


def _events() -> None:
    op.create_table(
        "events",
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("occurred_at", Time, nullable=False),
        sa.Column("received_at", Time, nullable=False),
        sa.Column("order_id", sa.String(200)),
        sa.Column("customer_id", sa.String(200)),
        sa.Column("subject", sa.String(320), nullable=False),
        sa.Column("delivered_at", Time),
        sa.Column("delay_days", sa.Float),
        sa.Column("data", Json, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_events"),
        sa.UniqueConstraint("source", "event_id", name="uq_events_source_event_id"),
    )
    op.create_index(
        "ix_events_customer_type_time", "events", ["customer_id", "type", "occurred_at"]
    )
    op.create_index("ix_events_order_type_time", "events", ["order_id", "type", "occurred_at"])


def _runs() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("event_seq", BigId, nullable=False),
        sa.Column("event_source", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("occurred_at", Time, nullable=False),
        sa.Column("order_id", sa.String(200)),
        sa.Column("customer_id", sa.String(200)),
        sa.Column("data", Json, nullable=False),
        sa.Column("enriched", Json, nullable=False),
        sa.Column("decisions", Json, nullable=False),
        sa.Column("timings", Json, nullable=False),
        sa.Column("action_count", sa.Integer, nullable=False),
        sa.Column("error_count", sa.Integer, nullable=False),
        sa.Column("actor", sa.String(200)),
        sa.Column("created_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.ForeignKeyConstraint(["event_seq"], ["events.seq"], name="fk_runs_event_seq_events"),
        sa.UniqueConstraint("event_seq", name="uq_runs_event_seq"),
        sa.UniqueConstraint("event_source", "event_id", name="uq_runs_event"),
    )
    op.create_index("ix_runs_order", "runs", ["order_id", "id"])
    op.create_index("ix_runs_customer", "runs", ["customer_id", "id"])
    op.create_index("ix_runs_type_time", "runs", ["event_type", "occurred_at"])
    op.create_index("ix_runs_time", "runs", ["occurred_at"])


def _run_decisions() -> None:
    op.create_table(
        "run_decisions",
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("ruleset", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "position", name="pk_run_decisions"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], ondelete="CASCADE", name="fk_run_decisions_run_id_runs"
        ),
    )
    op.create_index("ix_run_decisions_version", "run_decisions", ["ruleset", "version", "run_id"])


def _outbox() -> None:
    op.create_table(
        "outbox",
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("command_id", sa.String(80), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("command", Json, nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("relayed_at", Time),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox"),
        sa.UniqueConstraint("command_id", name="uq_outbox_command_id"),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["seq"],
        postgresql_where=sa.text("relayed_at IS NULL"),
        sqlite_where=sa.text("relayed_at IS NULL"),
    )
    op.create_index("ix_outbox_run", "outbox", ["run_id"])


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("run_decisions")
    op.drop_table("runs")
    op.drop_table("events")
