"""Response cache in Redis, keyed by the data version the pipelines bump after every write."""

from __future__ import annotations

DATA_VERSION_KEY = "hub:data_version"
"""Redis key the pipelines increment after every write (see `hub_pipelines.resources`)."""
