"""The results' `(recon_date, match_type)` index becomes a partial one over the breaks.

The discrepancy list and the largest breaks read the results of a day that are not clean
matches, in `(recon_date, id)` order; nothing reads the matches by type (the counts and the
exports scan the day's partition). A partial index over `(recon_date, id) WHERE match_type <>
'matched'` holds the ~2 % of a big day that are breaks, serves the list in its order without a
sort, and costs a reconciliation a scan of the day's rows instead of the sort of a million
entries when it builds the day's partition (`hub_pipelines.reconcile`).

On a partitioned table both statements reach every partition: the upgrade builds the new index
on every stored day, so it takes about a second per million results.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 22:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP INDEX ix_reconciliation_results_recon_date_match_type")
    op.execute(
        "CREATE INDEX ix_reconciliation_results_breaks ON reconciliation_results "
        "(recon_date, id) WHERE match_type <> 'matched'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_reconciliation_results_breaks")
    op.execute(
        "CREATE INDEX ix_reconciliation_results_recon_date_match_type ON reconciliation_results "
        "(recon_date, match_type)"
    )
