"""Materialize one source's sync job for one partition, in this process, on the instance of
`DAGSTER_HOME`, with the code location's own definitions and resources: what a run worker does,
in a process a fault test can kill, start twice, or give a broken environment.

`python -m tests.faults.run_partition vima 2026-01-01 [--own-instance]` prints the run id and
exits 0 on success. `--own-instance` runs on a throw-away instance instead: another Dagster
deployment, or the CLI, whose run limits and pools do not see the first instance's runs.
"""

from __future__ import annotations

import sys

from dagster import DagsterInstance

from hub_core.orchestration import SYNC_JOBS
from hub_core.types import Source
from hub_pipelines.definitions import defs


def main(source: str, partition: str, own_instance: bool = False) -> int:
    """Run the sync job of `source` for `partition`; 0 when it succeeded."""
    job = defs.resolve_job_def(SYNC_JOBS[Source(source)])
    with DagsterInstance.ephemeral() if own_instance else DagsterInstance.get() as instance:
        result = job.execute_in_process(
            partition_key=partition,
            instance=instance,
            raise_on_error=False,
        )
    print(f"run_id={result.run_id} success={result.success}", flush=True)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], "--own-instance" in sys.argv[3:]))
