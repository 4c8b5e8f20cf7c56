"""The hub's Dagster code location: provider ingestion, reconciliation and metrics assets."""
