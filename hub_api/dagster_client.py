"""A small client of Dagster's GraphQL API (the webserver)."""

from __future__ import annotations

from typing import Any

import httpx


class DagsterUnavailable(Exception):
    """Dagster's webserver could not be reached or answered with an error."""


class DagsterClient:
    """Calls Dagster's GraphQL endpoint over HTTP."""

    def __init__(self, graphql_url: str, timeout: float = 5.0) -> None:
        self.graphql_url = graphql_url
        self.timeout = timeout

    def query(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a GraphQL document; returns `data` or raises `DagsterUnavailable`."""
        try:
            response = httpx.post(
                self.graphql_url,
                json={"query": document, "variables": variables or {}},
                timeout=self.timeout,
            )
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise DagsterUnavailable(f"Dagster GraphQL unavailable: {type(exc).__name__}") from None
        if body.get("errors"):
            raise DagsterUnavailable(f"Dagster GraphQL error: {body['errors'][0].get('message')}")
        return body.get("data") or {}

    def version(self) -> str:
        """The webserver's Dagster version (a cheap liveness probe)."""
        return str(self.query("{ version }").get("version", ""))
