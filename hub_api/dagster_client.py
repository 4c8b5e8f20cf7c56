"""The API's client of Dagster's GraphQL API (the webserver): health, busy check, launches.

Launches go through `dagster_graphql.DagsterGraphQLClient`; the run query it does not cover
(runs of a tag in given statuses) is one small GraphQL document.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from hub_core.orchestration import CODE_LOCATION

PARTITION_TAG = "dagster/partition"
ACTIVE_STATUSES = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")
"""Run statuses during which a second run of the same work would overlap the first."""

_ACTIVE_RUNS = """
query ActiveRuns($filter: RunsFilter) {
  runsOrError(filter: $filter, limit: 10) {
    __typename
    ... on Runs { results { runId status jobName tags { key value } } }
    ... on PythonError { message }
  }
}
"""


class DagsterUnavailable(Exception):
    """Dagster's webserver could not be reached (the API answers 503)."""


class DagsterRejected(Exception):
    """Dagster answered but refused or failed the request (the API answers 502)."""


class DagsterClient:
    """Calls Dagster's GraphQL endpoint over HTTP."""

    def __init__(self, graphql_url: str, timeout: float = 5.0) -> None:
        self.graphql_url = graphql_url
        self.timeout = timeout

    def query(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a GraphQL document; returns `data`. Raises `DagsterUnavailable` when the
        webserver cannot be reached, `DagsterRejected` when it answers with errors."""
        try:
            response = httpx.post(
                self.graphql_url,
                json={"query": document, "variables": variables or {}},
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            raise DagsterUnavailable(f"Dagster unreachable: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise DagsterUnavailable(f"Dagster answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise DagsterRejected("Dagster answered with a body that is not JSON") from None
        if body.get("errors"):
            raise DagsterRejected(f"Dagster GraphQL error: {body['errors'][0].get('message')}")
        return body.get("data") or {}

    def version(self) -> str:
        """The webserver's Dagster version (a cheap liveness probe)."""
        return str(self.query("{ version }").get("version", ""))

    def active_runs(self, tags: dict[str, str], job_name: str | None = None) -> list[dict]:
        """Runs carrying every tag of `tags` (and of `job_name`) that are queued or running."""
        run_filter: dict[str, Any] = {
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
            "statuses": list(ACTIVE_STATUSES),
        }
        if job_name:
            run_filter["pipelineName"] = job_name
        result = self.query(_ACTIVE_RUNS, {"filter": run_filter}).get("runsOrError") or {}
        if result.get("__typename") != "Runs":
            raise DagsterRejected(f"Dagster could not list runs: {result.get('message', '')}")
        return list(result.get("results") or [])

    def _graphql_client(self) -> DagsterGraphQLClient:
        parts = urlsplit(self.graphql_url)
        prefix = parts.path.removesuffix("/graphql").rstrip("/")
        return DagsterGraphQLClient(
            parts.hostname or "127.0.0.1",
            port_number=parts.port,
            use_https=parts.scheme == "https",
            timeout=int(max(self.timeout, 1)),
            **({"path_prefix": prefix} if prefix else {}),
        )

    def launch(self, job_name: str, partition_key: str, tags: dict[str, str]) -> str:
        """Submit `job_name` for `partition_key`; returns the run id."""
        try:
            return self._graphql_client().submit_job_execution(
                job_name,
                repository_location_name=CODE_LOCATION,
                tags={**tags, PARTITION_TAG: partition_key},
            )
        except DagsterGraphQLClientError as exc:
            text = str(exc)
            if "connect" in text.lower():
                raise DagsterUnavailable("Dagster unreachable while launching") from None
            raise DagsterRejected(
                f"Dagster refused the launch: {text.splitlines()[0][:300]}"
            ) from None
