"""Initial schema: every hub table, `transactions` partitioned by month.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 23:33:47.203237
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from hub_core.db import ensure_month_partitions

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "discrepancy_resolutions",
        sa.Column("discrepancy_key", sa.Text(), nullable=False),
        sa.Column("resolved", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("resolved_by", sa.Text(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("discrepancy_key", name=op.f("pk_discrepancy_resolutions")),
    )
    op.create_table(
        "hourly_metrics",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("project", sa.Text(), server_default="", nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("fee", sa.Numeric(precision=18, scale=4), server_default="0", nullable=False),
        sa.Column("processing_p50_s", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column("processing_p95_s", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "hour",
            "source",
            "project",
            "direction",
            "status",
            "currency",
            name=op.f("pk_hourly_metrics"),
        ),
    )
    op.create_table(
        "ingest_checkpoints",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("stream", sa.Text(), nullable=False),
        sa.Column("partition_key", sa.Text(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("page", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rows", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("completed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "source", "stream", "partition_key", name=op.f("pk_ingest_checkpoints")
        ),
    )
    op.create_table(
        "raw_payshack_transactions",
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("txn_id", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=True),
        sa.Column("client_name", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("partition_key", sa.Text(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("data_hash", sa.Text(), nullable=False),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('payin', 'payout')", name=op.f("ck_raw_payshack_transactions_kind")
        ),
        sa.PrimaryKeyConstraint("kind", "txn_id", name=op.f("pk_raw_payshack_transactions")),
    )
    op.create_index(
        op.f("ix_raw_payshack_transactions_created_at"),
        "raw_payshack_transactions",
        ["created_at"],
        unique=False,
    )
    op.create_table(
        "raw_vima_operations",
        sa.Column("operation_id", sa.Text(), nullable=False),
        sa.Column("operation_create_id", sa.Numeric(precision=38, scale=0), nullable=True),
        sa.Column("operation_update_id", sa.Numeric(precision=38, scale=0), nullable=True),
        sa.Column("project", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("partition_key", sa.Text(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("data_hash", sa.Text(), nullable=False),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("operation_id", name=op.f("pk_raw_vima_operations")),
    )
    op.create_index(
        op.f("ix_raw_vima_operations_created_at"),
        "raw_vima_operations",
        ["created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_raw_vima_operations_operation_update_id"),
        "raw_vima_operations",
        ["operation_update_id"],
        unique=False,
    )
    op.create_table(
        "reconciliation_results",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("recon_date", sa.Date(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("match_type", sa.Text(), nullable=False),
        sa.Column("match_method", sa.Text(), nullable=True),
        sa.Column("discrepancy_key", sa.Text(), nullable=False),
        sa.Column("project", sa.Text(), nullable=True),
        sa.Column("direction", sa.Text(), nullable=True),
        sa.Column("currency", sa.Text(), nullable=True),
        sa.Column("client_operation_id", sa.Text(), nullable=True),
        sa.Column("order_id", sa.Text(), nullable=True),
        sa.Column("vima_txn_id", sa.Text(), nullable=True),
        sa.Column("payshack_txn_id", sa.Text(), nullable=True),
        sa.Column("vima_amount", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("payshack_amount", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("amount_diff", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("vima_status", sa.Text(), nullable=True),
        sa.Column("payshack_status", sa.Text(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "match_method IS NULL OR match_method IN ('exact', 'fallback')",
            name=op.f("ck_reconciliation_results_match_method"),
        ),
        sa.CheckConstraint(
            "match_type IN ('matched', 'discrepancy_amount', 'discrepancy_status', 'missing_vima', 'missing_payshack', 'duplicate')",
            name=op.f("ck_reconciliation_results_match_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_results")),
    )
    op.create_index(
        op.f("ix_reconciliation_results_recon_date_match_type"),
        "reconciliation_results",
        ["recon_date", "match_type"],
        unique=False,
    )
    op.create_table(
        "sync_state",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="idle", nullable=False),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.Column("partition_key", sa.Text(), nullable=True),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_successful_sync", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_cursor", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("records_synced", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("source IN ('vima', 'payshack')", name=op.f("ck_sync_state_source")),
        sa.CheckConstraint(
            "status IN ('idle', 'running', 'failed')", name=op.f("ck_sync_state_status")
        ),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_sync_state")),
    )
    op.create_table(
        "transactions",
        sa.Column("id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("reference_id", sa.Text(), nullable=True),
        sa.Column("client_operation_id", sa.Text(), nullable=True),
        sa.Column("order_id", sa.Text(), nullable=True),
        sa.Column("match_key", sa.Text(), nullable=True),
        sa.Column("project", sa.Text(), nullable=True),
        sa.Column("merchant_id", sa.Text(), nullable=True),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("paid_amount", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("fee", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("original_status", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("user_email", sa.Text(), nullable=True),
        sa.Column("user_phone", sa.Text(), nullable=True),
        sa.Column("user_name", sa.Text(), nullable=True),
        sa.Column("country", sa.Text(), nullable=True),
        sa.Column("utr", sa.Text(), nullable=True),
        sa.Column("payment_method", sa.Text(), nullable=True),
        sa.Column("payment_product", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "raw_data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("data_hash", sa.Text(), nullable=False),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "direction IN ('payin', 'payout')", name=op.f("ck_transactions_direction")
        ),
        sa.CheckConstraint("source IN ('vima', 'payshack')", name=op.f("ck_transactions_source")),
        sa.CheckConstraint(
            "status IN ('success', 'failed', 'pending', 'refunded')",
            name=op.f("ck_transactions_status"),
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_transactions_amount_non_negative")),
        sa.PrimaryKeyConstraint("id", "created_at", name=op.f("pk_transactions")),
        sa.UniqueConstraint(
            "source",
            "source_id",
            "created_at",
            name=op.f("uq_transactions_source_source_id_created_at"),
        ),
        postgresql_partition_by="RANGE (created_at)",
    )
    op.create_index(
        op.f("ix_transactions_client_operation_id"),
        "transactions",
        ["client_operation_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_transactions_created_at"), "transactions", ["created_at"], unique=False
    )
    op.create_index(op.f("ix_transactions_match_key"), "transactions", ["match_key"], unique=False)
    op.create_index(op.f("ix_transactions_order_id"), "transactions", ["order_id"], unique=False)
    op.create_index(
        op.f("ix_transactions_project_created_at"),
        "transactions",
        ["project", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_transactions_source_created_at"),
        "transactions",
        ["source", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_transactions_status_created_at"),
        "transactions",
        ["status", "created_at"],
        unique=False,
    )
    # The current month's partition; later months are created on demand by the writers.
    today = datetime.now(UTC).date()
    ensure_month_partitions(op.get_bind(), today, today)


def downgrade() -> None:
    op.drop_index(op.f("ix_transactions_status_created_at"), table_name="transactions")
    op.drop_index(op.f("ix_transactions_source_created_at"), table_name="transactions")
    op.drop_index(op.f("ix_transactions_project_created_at"), table_name="transactions")
    op.drop_index(op.f("ix_transactions_order_id"), table_name="transactions")
    op.drop_index(op.f("ix_transactions_match_key"), table_name="transactions")
    op.drop_index(op.f("ix_transactions_created_at"), table_name="transactions")
    op.drop_index(op.f("ix_transactions_client_operation_id"), table_name="transactions")
    op.drop_table("transactions")
    op.drop_table("sync_state")
    op.drop_index(
        op.f("ix_reconciliation_results_recon_date_match_type"), table_name="reconciliation_results"
    )
    op.drop_table("reconciliation_results")
    op.drop_index(
        op.f("ix_raw_vima_operations_operation_update_id"), table_name="raw_vima_operations"
    )
    op.drop_index(op.f("ix_raw_vima_operations_created_at"), table_name="raw_vima_operations")
    op.drop_table("raw_vima_operations")
    op.drop_index(
        op.f("ix_raw_payshack_transactions_created_at"), table_name="raw_payshack_transactions"
    )
    op.drop_table("raw_payshack_transactions")
    op.drop_table("ingest_checkpoints")
    op.drop_table("hourly_metrics")
    op.drop_table("discrepancy_resolutions")
