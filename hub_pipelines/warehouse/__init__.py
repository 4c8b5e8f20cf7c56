"""Writes to the hub tables that every source shares: the `transactions` upsert
(`transactions`), checkpoints (`checkpoints`), sync state and partition syncs (`sync`), the
partition lock (`locks`), the landing session (`session`), reading raw rows back (`raw`),
missed cache bumps (`cache_bumps`) and reconciliation runs (`reconciliation_runs`); `rows` holds
what they share. Each source's raw landing lives with the source (`sources/<name>/landing.py`).

Every write is idempotent: upserts only touch a row whose content hash changed, so re-running
a partition over unchanged data writes nothing.
"""
