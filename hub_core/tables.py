"""The hub's tables as SQLAlchemy Core definitions: the one place each table is described.

Alembic's history in `hub_core/migrations/` creates them; pipelines write them; the API reads them.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from hub_core.types import Direction, MatchMethod, MatchType, Source, Status, SyncStatus

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "pk": "pk_%(table_name)s",
    }
)

MONEY = Numeric(18, 4)
CURSOR = Numeric(38, 0)  # provider cursors are strings of digits of unknown length


def _tz() -> DateTime:
    return DateTime(timezone=True)


def _in_enum(column: str, enum: type[StrEnum], name: str) -> CheckConstraint:
    values = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=name)


raw_vima_operations = Table(
    "raw_vima_operations",
    metadata,
    Column("operation_id", Text, primary_key=True),
    Column("operation_create_id", CURSOR),
    Column("operation_update_id", CURSOR),
    Column("project", Text),
    Column("created_at", _tz()),
    Column("modified_at", _tz()),
    Column("partition_key", Text),  # the partition that fetched it (rows without a valid time)
    Column("payload", JSONB, nullable=False),
    Column("data_hash", Text, nullable=False),
    Column("fetched_at", _tz(), nullable=False, server_default=func.now()),
    Index(None, "created_at"),
)

raw_payshack_transactions = Table(
    "raw_payshack_transactions",
    metadata,
    Column("kind", Text, nullable=False),
    Column("txn_id", Text, nullable=False),
    Column("order_id", Text),
    Column("client_name", Text),
    Column("created_at", _tz()),
    Column("modified_at", _tz()),
    Column("partition_key", Text),  # the partition that fetched it (rows without a valid time)
    Column("payload", JSONB, nullable=False),
    Column("data_hash", Text, nullable=False),
    Column("fetched_at", _tz(), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("kind", "txn_id"),
    _in_enum("kind", Direction, "kind"),
    Index(None, "created_at"),
)

transactions = Table(
    "transactions",
    metadata,
    Column("id", UUID(as_uuid=False), nullable=False),
    Column("source", Text, nullable=False),
    Column("source_id", Text, nullable=False),
    Column("reference_id", Text),
    Column("client_operation_id", Text),
    Column("order_id", Text),
    Column("match_key", Text),
    Column("project", Text),
    Column("merchant_id", Text),
    Column("direction", Text, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("paid_amount", MONEY),
    Column("currency", Text, nullable=False),
    Column("fee", MONEY),
    Column("status", Text, nullable=False),
    Column("original_status", Text, nullable=False),
    Column("user_id", Text),
    Column("user_email", Text),
    Column("user_phone", Text),
    Column("user_name", Text),
    Column("country", Text),
    Column("utr", Text),
    Column("payment_method", Text),
    Column("payment_product", Text),
    Column("created_at", _tz(), nullable=False),
    Column("updated_at", _tz()),
    Column("completed_at", _tz()),
    Column("raw_data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("data_hash", Text, nullable=False),
    Column("ingested_at", _tz(), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("id", "created_at"),
    UniqueConstraint("source", "source_id", "created_at"),
    _in_enum("source", Source, "source"),
    _in_enum("direction", Direction, "direction"),
    _in_enum("status", Status, "status"),
    CheckConstraint("amount >= 0", name="amount_non_negative"),
    Index(None, "created_at", "id"),  # the list's order (migration 0003)
    Index(None, "source", "created_at"),
    Index(None, "project", "created_at"),
    Index(None, "status", "created_at"),
    # a lookup by client_operation_id (Vima) or order_id (PayShack) is one by match_key
    Index(None, "match_key"),
    # the API's search (migration 0003): exact UTR and phone, e-mail case-insensitive
    Index("ix_transactions_utr", "utr", postgresql_where=text("utr IS NOT NULL")),
    Index(
        "ix_transactions_user_phone", "user_phone", postgresql_where=text("user_phone IS NOT NULL")
    ),
    Index(
        "ix_transactions_lower_user_email",
        func.lower(text("user_email")),
        postgresql_where=text("user_email IS NOT NULL"),
    ),
    postgresql_partition_by="RANGE (created_at)",
)

ingest_checkpoints = Table(
    "ingest_checkpoints",
    metadata,
    Column("source", Text, nullable=False),
    Column("stream", Text, nullable=False),
    Column("partition_key", Text, nullable=False),
    Column("cursor", Text),
    Column("page", Integer, nullable=False, server_default="0"),
    Column("rows", BigInteger, nullable=False, server_default="0"),
    Column("completed", Boolean, nullable=False, server_default=text("false")),
    Column("updated_at", _tz(), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("source", "stream", "partition_key"),
)

partition_syncs = Table(
    "partition_syncs",
    metadata,
    Column("source", Text, nullable=False),
    Column("partition_key", Text, nullable=False),
    Column("synced_at", _tz(), nullable=False),  # when the sync started: its data is as of then
    Column("complete", Boolean, nullable=False),  # whether it read the partition whole
    Column("rows", BigInteger, nullable=False, server_default="0"),
    Column("run_id", Text),
    PrimaryKeyConstraint("source", "partition_key"),
    _in_enum("source", Source, "source"),
)
"""Each source's last successful sync of each daily partition (what the API's reconciliation
summary reads to say whether a day is complete)."""

missed_cache_bumps = Table(
    "missed_cache_bumps",
    metadata,
    Column("key", Text, primary_key=True),
    Column("since", _tz(), nullable=False),
)
"""A data-version bump that could not reach Redis: the next run bumps even if it writes
nothing, then deletes the row (so a Redis outage never leaves the API cache stale)."""

sync_state = Table(
    "sync_state",
    metadata,
    Column("source", Text, primary_key=True),
    Column("status", Text, nullable=False, server_default=SyncStatus.IDLE.value),
    Column("run_id", Text),
    Column("partition_key", Text),
    Column("last_sync_at", _tz()),
    Column("last_successful_sync", _tz()),
    Column("last_cursor", JSONB),
    Column("records_synced", BigInteger, nullable=False, server_default="0"),
    Column("error_message", Text),
    Column("updated_at", _tz(), nullable=False, server_default=func.now()),
    _in_enum("source", Source, "source"),
    _in_enum("status", SyncStatus, "status"),
)

PROVIDER_ID = Text(collation="C")
"""A provider's id of a transaction in the results: opaque, compared byte by byte. Under the
"C" collation an index build sorts these with memcmp and abbreviated keys instead of the
database's locale (`strcoll`, even for C.UTF-8 in PostgreSQL 15): the two txn-id indexes of a
million-result day build in about half the time (migration 0007). Equality is the same under
every deterministic collation, so lookups by id read the same rows."""

reconciliation_results = Table(
    "reconciliation_results",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    # the partition key, so also in the primary key (an id alone still names one result)
    Column("recon_date", Date, primary_key=True),
    Column("run_id", Text, nullable=False),
    Column("match_type", Text, nullable=False),
    Column("match_method", Text),
    Column("discrepancy_key", Text, nullable=False),
    Column("project", Text),
    Column("direction", Text),
    Column("currency", Text),
    Column("client_operation_id", Text),
    Column("order_id", Text),
    Column("vima_txn_id", PROVIDER_ID),
    Column("payshack_txn_id", PROVIDER_ID),
    Column("vima_amount", MONEY),
    Column("payshack_amount", MONEY),
    Column("amount_diff", MONEY),
    Column("vima_status", Text),
    Column("payshack_status", Text),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", _tz(), nullable=False, server_default=func.now()),
    _in_enum("match_type", MatchType, "match_type"),
    CheckConstraint(
        "match_method IS NULL OR match_method IN ("
        + ", ".join(f"'{m.value}'" for m in MatchMethod)
        + ")",
        name="match_method",
    ),
    # the breaks of a day in the API's order (the discrepancy list, the largest breaks): partial,
    # so a reconciliation builds it over the ~2 % of a day that are breaks (migration 0006)
    Index(
        "ix_reconciliation_results_breaks",
        "recon_date",
        "id",
        postgresql_where=text(f"match_type <> '{MatchType.MATCHED.value}'"),
    ),
    # a transaction's result(s), for GET /transactions/{id} (migration 0003)
    Index(
        "ix_reconciliation_results_vima_txn_id",
        "vima_txn_id",
        postgresql_where=text("vima_txn_id IS NOT NULL"),
    ),
    Index(
        "ix_reconciliation_results_payshack_txn_id",
        "payshack_txn_id",
        postgresql_where=text("payshack_txn_id IS NOT NULL"),
    ),
    # one partition per day, swapped in whole by a reconciliation (migration 0005); rows of a
    # day without one land in RESULTS_DEFAULT_PARTITION
    postgresql_partition_by="LIST (recon_date)",
)
RESULTS_DEFAULT_PARTITION = "reconciliation_results_default"
"""The DEFAULT partition of `reconciliation_results`: rows of days that have no partition of
their own (inserted directly, not by a reconciliation). Migration 0005 leaves it empty, and it
should stay small: attaching a day's partition scans it whole."""

reconciliation_runs = Table(
    "reconciliation_runs",
    metadata,
    Column("recon_date", Date, primary_key=True),
    Column("run_id", Text, nullable=False),
    Column("run_at", _tz(), nullable=False),
    Column("total", BigInteger, nullable=False, server_default="0"),
    Column("provisional", Boolean, nullable=False),
    Column("reasons", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
)
"""Each day's last reconciliation; `provisional` when a source had not synced the day or a
neighbour its margin reads (`reasons` says which) when it ran."""

discrepancy_resolutions = Table(
    "discrepancy_resolutions",
    metadata,
    Column("discrepancy_key", Text, primary_key=True),
    Column("resolved", Boolean, nullable=False, server_default=text("true")),
    Column("resolved_by", Text),
    Column("resolved_at", _tz()),
    Column("note", Text),
    Column("updated_at", _tz(), nullable=False, server_default=func.now()),
)

hourly_metrics = Table(
    "hourly_metrics",
    metadata,
    Column("hour", _tz(), nullable=False),
    Column("source", Text, nullable=False),
    Column("project", Text, nullable=False, server_default=""),
    Column("direction", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("fee", MONEY, nullable=False, server_default="0"),
    Column("processing_p50_s", Numeric(12, 3)),
    Column("processing_p95_s", Numeric(12, 3)),
    Column("updated_at", _tz(), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("hour", "source", "project", "direction", "status", "currency"),
)
