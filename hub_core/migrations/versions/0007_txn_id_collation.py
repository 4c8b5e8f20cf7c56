"""The results' provider txn ids under the "C" collation.

`vima_txn_id` and `payshack_txn_id` are opaque ids: nothing sorts them for a reader, and
equality is the same under every deterministic collation. Under the database's locale an index
build compares them with `strcoll` (PostgreSQL 15 treats only "C" and "POSIX" as byte order,
not C.UTF-8); under "C" it sorts with memcmp and abbreviated keys, and a reconciliation builds
the day partition's two txn-id indexes in about half the time (`hub_core.tables.PROVIDER_ID`).

A change of collation keeps the rows (no table rewrite) and rebuilds the indexes on the two
columns in every partition.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 22:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("vima_txn_id", "payshack_txn_id")


def _collate(collation: str) -> None:
    changes = ", ".join(
        f'ALTER COLUMN {column} TYPE text COLLATE "{collation}"' for column in _COLUMNS
    )
    op.execute(f"ALTER TABLE reconciliation_results {changes}")


def upgrade() -> None:
    _collate("C")


def downgrade() -> None:
    _collate("default")
