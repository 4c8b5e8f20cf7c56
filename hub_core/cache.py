"""Redis keys shared by the pipelines (writers) and the API (reader)."""

DATA_VERSION_KEY = "hub:data_version"
"""Incremented by the pipelines after every write; the API's cache keys include it, so a
cached response never outlives the data it was computed from."""
