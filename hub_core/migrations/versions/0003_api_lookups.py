"""What the REST API reads: lookup indexes, and each source's last sync of each partition.

- `partition_syncs`: a source's last successful sync of a daily partition (as of when it
  started, whether it read the day whole): the reconciliation summary's complete/provisional.
- `missed_cache_bumps`: a data-version bump Redis did not take, caught up by the next run.

- `transactions`: the created_at index becomes (created_at, id), the list's order: a page
  deep in the list (offset) is found by an index-only scan, keyset paging needs no sort.
- `transactions`: search by UTR, phone and e-mail (exact; e-mail case-insensitive). Partial
  indexes (`IS NOT NULL`): rows without the value cost nothing to write. Search by id uses the
  primary key, by provider id the unique (source, source_id, created_at) index, by order id /
  client operation id the `match_key` index.
- `reconciliation_results`: a transaction's result(s) by its provider id on either side (the
  discrepancy list reads the existing (recon_date, match_type) index).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "missed_cache_bumps",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_missed_cache_bumps")),
    )
    op.create_table(
        "partition_syncs",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("partition_key", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("rows", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "source IN ('vima', 'payshack')", name=op.f("ck_partition_syncs_source")
        ),
        sa.PrimaryKeyConstraint("source", "partition_key", name=op.f("pk_partition_syncs")),
    )
    op.drop_index(op.f("ix_transactions_created_at"), table_name="transactions")
    op.create_index(op.f("ix_transactions_created_at_id"), "transactions", ["created_at", "id"])
    op.create_index(
        "ix_transactions_utr", "transactions", ["utr"], postgresql_where=sa.text("utr IS NOT NULL")
    )
    op.create_index(
        "ix_transactions_user_phone",
        "transactions",
        ["user_phone"],
        postgresql_where=sa.text("user_phone IS NOT NULL"),
    )
    op.create_index(
        "ix_transactions_lower_user_email",
        "transactions",
        [sa.text("lower(user_email)")],
        postgresql_where=sa.text("user_email IS NOT NULL"),
    )
    op.create_index(
        "ix_reconciliation_results_vima_txn_id",
        "reconciliation_results",
        ["vima_txn_id"],
        postgresql_where=sa.text("vima_txn_id IS NOT NULL"),
    )
    op.create_index(
        "ix_reconciliation_results_payshack_txn_id",
        "reconciliation_results",
        ["payshack_txn_id"],
        postgresql_where=sa.text("payshack_txn_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("missed_cache_bumps")
    op.drop_table("partition_syncs")
    op.drop_index("ix_reconciliation_results_payshack_txn_id", "reconciliation_results")
    op.drop_index("ix_reconciliation_results_vima_txn_id", "reconciliation_results")
    op.drop_index("ix_transactions_lower_user_email", "transactions")
    op.drop_index("ix_transactions_user_phone", "transactions")
    op.drop_index("ix_transactions_utr", "transactions")
    op.drop_index(op.f("ix_transactions_created_at_id"), table_name="transactions")
    op.create_index(op.f("ix_transactions_created_at"), "transactions", ["created_at"])
