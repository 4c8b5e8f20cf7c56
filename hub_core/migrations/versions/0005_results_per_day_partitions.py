"""`reconciliation_results` partitioned by `recon_date`: a day's results are swapped in whole.

A reconciliation writes a day's results (a million rows on a big day) into a table of their
own without indexes, builds the indexes sorted once the rows are in, and attaches the table as
the day's partition, dropping the previous one: no per-row index maintenance (about half of
the write), and a re-run drops the old day instead of deleting its rows one by one and leaving
as many dead tuples behind (`hub_pipelines.reconcile`).

- The parent is `PARTITION BY LIST (recon_date)`; its primary key becomes `(id, recon_date)`
  (a partitioned table's unique keys include the partition key). Ids keep coming from the same
  sequence, so an id still names one result.
- Every stored day gets a partition of its own (`reconciliation_results_<yyyymmdd>_0005`), ids
  kept. The DEFAULT partition, `reconciliation_results_default`, starts empty and takes only
  rows written for a day without a partition (a direct insert); a reconciliation of such a day
  deletes that day's rows from it before attaching its own.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 19:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ("ix_reconciliation_results_recon_date_match_type", "(recon_date, match_type)"),
    ("ix_reconciliation_results_vima_txn_id", "(vima_txn_id) WHERE vima_txn_id IS NOT NULL"),
    (
        "ix_reconciliation_results_payshack_txn_id",
        "(payshack_txn_id) WHERE payshack_txn_id IS NOT NULL",
    ),
)


def upgrade() -> None:
    op.execute("ALTER TABLE reconciliation_results RENAME TO reconciliation_results_plain")
    op.execute("ALTER TABLE reconciliation_results_plain DROP CONSTRAINT pk_reconciliation_results")
    for name, _ in _INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.execute(
        "CREATE TABLE reconciliation_results (LIKE reconciliation_results_plain "
        "INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY LIST (recon_date)"
    )
    op.execute("ALTER SEQUENCE reconciliation_results_id_seq OWNED BY reconciliation_results.id")
    op.execute(
        "ALTER TABLE reconciliation_results "
        "ADD CONSTRAINT pk_reconciliation_results PRIMARY KEY (id, recon_date)"
    )
    for name, definition in _INDEXES:
        op.execute(f"CREATE INDEX {name} ON reconciliation_results {definition}")
    op.execute(
        "CREATE TABLE reconciliation_results_default PARTITION OF reconciliation_results DEFAULT"
    )
    # Every stored day gets its partition, so that the DEFAULT one starts empty: an ATTACH scans
    # it whole, under a lock that holds readers of the results back.
    op.execute(
        """
        DO $$
        DECLARE day date;
        BEGIN
            FOR day IN SELECT DISTINCT recon_date FROM reconciliation_results_plain LOOP
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF reconciliation_results FOR VALUES IN (%L)',
                    'reconciliation_results_' || to_char(day, 'YYYYMMDD') || '_0005', day);
            END LOOP;
        END $$
        """
    )
    op.execute("INSERT INTO reconciliation_results SELECT * FROM reconciliation_results_plain")
    op.execute("DROP TABLE reconciliation_results_plain")


def downgrade() -> None:
    op.execute(
        "CREATE TABLE reconciliation_results_plain (LIKE reconciliation_results "
        "INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )
    op.execute("INSERT INTO reconciliation_results_plain SELECT * FROM reconciliation_results")
    op.execute(
        "ALTER SEQUENCE reconciliation_results_id_seq OWNED BY reconciliation_results_plain.id"
    )
    op.execute("DROP TABLE reconciliation_results")  # and every partition
    op.execute("ALTER TABLE reconciliation_results_plain RENAME TO reconciliation_results")
    op.execute(
        "ALTER TABLE reconciliation_results "
        "ADD CONSTRAINT pk_reconciliation_results PRIMARY KEY (id)"
    )
    for name, definition in _INDEXES:
        op.execute(f"CREATE INDEX {name} ON reconciliation_results {definition}")
