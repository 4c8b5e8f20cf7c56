"""Dagster objects of the code location, one folder per source and per cross-source stage,
autoloaded by `dg` (`hub_pipelines.definitions` adds the resources and the sensors)."""
