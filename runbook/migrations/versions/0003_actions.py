"""actions and action_attempts (action_service)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(JSONB(), "postgresql")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "actions",
        sa.Column("id", sa.String(120), nullable=False),
        sa.Column("idempotency_key", sa.String(120), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("index", sa.Integer, nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("params", Json, nullable=False),
        sa.Column("command", Json, nullable=False),
        sa.Column("ruleset", sa.String(200)),
        sa.Column("version", sa.Integer),
        sa.Column("order_id", sa.String(200)),
        sa.Column("customer_id", sa.String(200)),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("approval", sa.String(50)),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("decided_at", Time),
        sa.Column("system", sa.String(50)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("due_at", Time, nullable=False),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_until", Time),
        sa.Column("last_error", sa.Text),
        sa.Column("result", Json),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("received_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.Column("completed_at", Time),
        sa.PrimaryKeyConstraint("id", name="pk_actions"),
        sa.UniqueConstraint("idempotency_key", name="uq_actions_idempotency_key"),
    )
    op.create_index("ix_actions_status_due", "actions", ["status", "due_at"])
    op.create_index("ix_actions_run_id", "actions", ["run_id"])
    op.create_index("ix_actions_order_id", "actions", ["order_id"])
    op.create_index("ix_actions_action_status", "actions", ["action", "status"])
    op.create_table(
        "action_attempts",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("action_id", sa.String(120), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("worker", sa.String(200), nullable=False),
        sa.Column("system", sa.String(50)),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("requests", Json, nullable=False),
        sa.Column("started_at", Time, nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_action_attempts"),
        sa.ForeignKeyConstraint(["action_id"], ["actions.id"], ondelete="CASCADE",
                                name="fk_action_attempts_action_id_actions"),
    )
    op.create_index("ix_action_attempts_action", "action_attempts", ["action_id", "number"])


def downgrade() -> None:
    op.drop_index("ix_action_attempts_action", table_name="action_attempts")
    op.drop_table("action_attempts")
    for name in ("ix_actions_action_status", "ix_actions_order_id", "ix_actions_run_id",
                 "ix_actions_status_due"):
        op.drop_index(name, table_name="actions")
    op.drop_table("actions")
