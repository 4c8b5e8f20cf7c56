"""Response cache in Redis, keyed by the data version the pipelines bump after every write."""

from hub_core.cache import DATA_VERSION_KEY

__all__ = ["DATA_VERSION_KEY"]
