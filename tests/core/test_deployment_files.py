"""docker-compose.yml, dagster.yaml and workspace.yaml are well-formed and say what they must."""

from __future__ import annotations

import yaml

from tests.conftest import ROOT


def test_compose_services_healthchecks_and_volumes() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    assert "5432" in str(services["postgres"]["healthcheck"]["test"]) or "pg_isready" in str(
        services["postgres"]["healthcheck"]["test"]
    )
    assert "ping" in str(services["redis"]["healthcheck"]["test"])
    for name in ("postgres", "redis"):
        volume = services[name]["volumes"][0].split(":")[0]
        assert volume in compose["volumes"]
    built = {"dagster-webserver", "dagster-daemon", "code-location", "api"}
    assert built <= set(services)
    for name in built:
        assert services[name]["build"]["dockerfile"] == "Dockerfile"
        assert ".env" in services[name]["env_file"]
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
    assert (ROOT / "Dockerfile").exists()


def test_dagster_instance_config() -> None:
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_POSTGRES_URL"}
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    (limit,) = config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert limit == {"key": "hub/source", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    assert config["run_retries"]["enabled"] is True
    assert config["telemetry"]["enabled"] is False
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["python_module"]["module_name"] == "hub_pipelines.definitions"
