"""Read queries over the hub tables: plain functions that take a connection and return rows.

Neither FastAPI nor Dagster is imported here, so the API, the pipelines, the benchmarks and the
tests call the same code.
"""
