"""The hub's REST API (FastAPI): reads the materialized tables, asks Dagster to run work."""
