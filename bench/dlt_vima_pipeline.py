"""One Vima day loaded by dlt, written the way a dlt user writes it: a script run as
`python dlt_vima_pipeline.py VIMA_URL DAY`.

The resource is `bench/vima_ingest.py`'s `dlt_e2e` one (the create cursor paged with
`dlt.sources.incremental`, merge on `operation_id`, 100 operations a page), configured the dlt
way: the destination's credentials come from `DESTINATION__POSTGRES__CREDENTIALS`, the Vima API
key from `SOURCES__VIMA__API_KEY`, the pipelines directory from `DLT_DATA_DIR`, everything else
is dlt's default. `bench/fixed_cost.py --per-day N` runs it, command to exit, against the hub's
`dagster asset materialize` of the same day.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import dlt
from dlt.sources.helpers import requests

PAGE_SIZE = 100


def vima_operations(vima_url: str, day: str, api_key: str) -> Any:
    """The day's operations, paged by their create id (incremental, merged on `operation_id`)."""

    @dlt.resource(name="vima_operations", write_disposition="merge", primary_key="operation_id")
    def operations(
        created: dlt.sources.incremental[str] = dlt.sources.incremental(  # noqa: B008 (dlt idiom)
            "operation_create_id", initial_value="0"
        ),
    ) -> Iterator[list[dict[str, Any]]]:
        cursor = created.last_value
        while True:
            response = requests.get(
                f"{vima_url}/collector1/api/v1/operation",
                params={
                    "apikey": api_key,
                    "date": day,
                    "count": PAGE_SIZE,
                    "descending": "false",
                    "from_operation_create_id": cursor,
                },
            )
            response.raise_for_status()
            page = response.json()
            if not page:
                return
            yield page
            cursor = page[-1]["operation_create_id"]

    return operations()


def main(vima_url: str, day: str) -> None:
    """Load the day into the `vima` dataset of the postgres destination."""
    pipeline = dlt.pipeline(pipeline_name="vima", destination="postgres", dataset_name="vima")
    info = pipeline.run(vima_operations(vima_url, day, dlt.secrets["sources.vima.api_key"]))
    info.raise_on_failed_jobs()
    print(info)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
