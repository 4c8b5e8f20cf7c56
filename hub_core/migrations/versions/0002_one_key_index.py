"""Indexes no query needs: client_operation_id and order_id of transactions, and the update id
of raw Vima operations.

`match_key` holds a Vima row's `client_operation_id` and a PayShack row's `order_id`, and
is indexed: a lookup by either id is a lookup by `match_key`. The two other indexes cost every
write (about 0.3 s per 200,000 rows each) and served no query. Raw Vima rows are found by
`operation_id` (the version check reads the row found by its key); nothing looks them up by
`operation_update_id`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 05:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f("ix_transactions_client_operation_id"), table_name="transactions")
    op.drop_index(op.f("ix_transactions_order_id"), table_name="transactions")
    op.drop_index(
        op.f("ix_raw_vima_operations_operation_update_id"), table_name="raw_vima_operations"
    )


def downgrade() -> None:
    op.create_index(
        op.f("ix_raw_vima_operations_operation_update_id"),
        "raw_vima_operations",
        ["operation_update_id"],
    )
    op.create_index(
        op.f("ix_transactions_client_operation_id"), "transactions", ["client_operation_id"]
    )
    op.create_index(op.f("ix_transactions_order_id"), "transactions", ["order_id"])
