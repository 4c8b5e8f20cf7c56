"""The deployment files parse and agree with each other and with the code.

docker-compose.yml, the Dockerfile, dagster.yaml, the workspaces and everything under deploy/
(the DockerRunLauncher instance, the Helm values for the official chart, the Kubernetes manifests)
name the same image, module, code location, ports, databases and settings; every health check
and URL points at the port its service listens on.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

from hub_core.orchestration import CODE_LOCATION
from hub_core.settings import Settings
from tests.conftest import ROOT

SETTINGS = frozenset(name.upper() for name in Settings.model_fields)
DAGSTER_VARS = frozenset({"DAGSTER_HOME", "DAGSTER_CURRENT_IMAGE"})
POSTGRES_VARS = frozenset({"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"})
COMPOSE_ONLY = frozenset({"POSTGRES_PASSWORD"})
"""Read from .env by compose itself (interpolation), not by the hub."""
API_ONLY = frozenset({"HUB_API_KEYS", "HUB_API_RATE_LIMIT_PER_MINUTE", "DAGSTER_GRAPHQL_URL"})
"""Settings only the API reads: not passed to run containers."""
MODULE = "hub_pipelines.definitions"
LONG_RUNNING = ("postgres", "redis", "code-location", "dagster-webserver", "dagster-daemon", "api")


def load(path: str) -> Any:
    return yaml.safe_load((ROOT / path).read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load("docker-compose.yml")


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def helm() -> dict[str, Any]:
    return load("deploy/helm/values.yaml")


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def resolved(value: str) -> str:
    """`value` with compose's `${VAR...}` interpolations replaced by a placeholder."""
    return re.sub(r"\$\{[^}]*\}", "placeholder", value)


def option(command: list[str], *flags: str) -> str:
    """The value following the first of `flags` in `command`."""
    for index, part in enumerate(command):
        if part in flags:
            return command[index + 1]
    raise AssertionError(f"none of {flags} in {command}")


def healthcheck(service: dict[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, list) else ["CMD-SHELL", test]


def urls_in(words: list[str]) -> list[str]:
    return [url for word in words for url in re.findall(r"https?://[^\s'\"]+", word)]


def published_container_ports(service: dict[str, Any]) -> set[int]:
    return {int(str(mapping).split(":")[-1].split("/")[0]) for mapping in service["ports"]}


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Mount target -> source of a service's volumes (short syntax)."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        found[target] = source
    return found


def dockerfile_env(name: str) -> str:
    match = re.search(rf"\b{name}=(\S+)", (ROOT / "Dockerfile").read_text())
    assert match, f"{name} not set in the Dockerfile"
    return match.group(1)


def pinned(package: str) -> str:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for requirement in pyproject["project"]["dependencies"]:
        if match := re.fullmatch(rf"{package}==(\S+)", requirement):
            return match.group(1)
    raise AssertionError(f"{package} is not pinned in pyproject.toml")


def image_name(image: str) -> tuple[str, str]:
    """(last path component, tag) of an image reference."""
    name, _, tag = image.rpartition(":")
    return name.rsplit("/", 1)[-1], tag


# -- docker-compose.yml ------------------------------------------------------------------------


def test_compose_services_healthchecks_and_volumes(compose: dict[str, Any], services) -> None:
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    assert "pg_isready" in healthcheck(services["postgres"])[-1]
    assert "ping" in healthcheck(services["redis"])
    redis_command = services["redis"]["command"]
    assert option(redis_command, "--appendonly") == "yes", "Redis persists with AOF"
    for name in ("postgres", "redis"):
        volume = services[name]["volumes"][0].split(":")[0]
        assert volume in compose["volumes"]
    for name in LONG_RUNNING:
        assert services[name]["healthcheck"]["test"], name
        assert services[name]["restart"] == "unless-stopped", name
    assert services["migrate"]["restart"] == "no"
    assert option(services["migrate"]["command"], "hub") == "migrate"
    for service in services.values():  # every named volume is declared
        for source in mounts(service).values():
            if not source.startswith(("/", ".")):
                assert source in compose["volumes"], source


def test_compose_hub_services_share_one_image(services) -> None:
    built = {name: service for name, service in services.items() if "build" in service}
    assert {"migrate", "code-location", "dagster-webserver", "dagster-daemon", "api"} <= set(built)
    assert len({service["image"] for service in built.values()}) == 1, "one image tag"
    for name, service in built.items():
        assert service["build"]["dockerfile"] == "Dockerfile"
        assert (ROOT / service["build"]["context"] / "Dockerfile").exists()
        assert ".env" in service["env_file"], name
        depends = service["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        if name != "migrate":
            assert depends["redis"]["condition"] == "service_healthy", name
            assert depends["migrate"]["condition"] == "service_completed_successfully", name
    for name in ("dagster-webserver", "dagster-daemon"):
        assert services[name]["depends_on"]["code-location"]["condition"] == "service_healthy"


def test_code_location_port_module_and_name_agree(services) -> None:
    code = services["code-location"]
    command = code["command"]
    port = int(option(command, "-p", "--port"))
    assert option(command, "-h", "--host") == "0.0.0.0"
    assert option(command, "-m", "--module-name") == MODULE
    assert option(command, "--location-name") == CODE_LOCATION
    check = healthcheck(code)
    assert "grpc-health-check" in check and int(option(check, "-p", "--port")) == port

    workspace = load("deploy/workspace.docker.yaml")
    (entry,) = workspace["load_from"]
    server = entry["grpc_server"]
    assert server["host"] == "code-location" and server["port"] == port
    assert server["location_name"] == CODE_LOCATION
    local = load("workspace.yaml")["load_from"][0]["python_module"]
    assert local == {"module_name": MODULE, "location_name": CODE_LOCATION}

    for name in ("dagster-webserver", "dagster-daemon"):
        workspace_path = option(services[name]["command"], "-w", "--workspace")
        assert mounts(services[name])[workspace_path] == "./deploy/workspace.docker.yaml", name


def test_webserver_port_and_graphql_url_agree(services) -> None:
    webserver = services["dagster-webserver"]
    port = int(option(webserver["command"], "-p", "--port"))
    assert port in published_container_ports(webserver)
    (health,) = urls_in(healthcheck(webserver))
    assert urlsplit(health).port == port
    for name, service in services.items():
        if url := environment(service).get("DAGSTER_GRAPHQL_URL"):
            parts = urlsplit(url)
            assert (parts.hostname, parts.port, parts.path) == (
                "dagster-webserver",
                port,
                "/graphql",
            ), name


def test_api_port_and_healthcheck_agree(services) -> None:
    api = services["api"]
    command = api["command"]
    assert command[:2] == ["hub", "api"]
    port = int(option(command, "--port"))
    assert option(command, "--host") == "0.0.0.0"
    (health,) = urls_in(healthcheck(api))
    assert urlsplit(health).port == port and urlsplit(health).path == "/api/v1/health"
    assert published_container_ports(api) == {port}


def test_database_and_redis_urls_point_at_their_services(services) -> None:
    postgres, redis = services["postgres"], services["redis"]
    pg_port = int(option(healthcheck(postgres)[-1].split(), "-p"))
    assert published_container_ports(postgres) == {pg_port}
    redis_port = int(option(redis["command"], "--port"))
    assert int(option(healthcheck(redis), "-p")) == redis_port
    assert published_container_ports(redis) == {redis_port}
    for name in ("postgres", "redis"):  # published for the host's tools only
        assert all(str(port).startswith("127.0.0.1:") for port in services[name]["ports"])
    hub_db = postgres["environment"]["POSTGRES_DB"]
    for name, service in services.items():
        env = environment(service)
        if "DATABASE_URL" not in env:
            continue
        hub_url = urlsplit(resolved(env["DATABASE_URL"]))
        dagster_url = urlsplit(resolved(env["DAGSTER_POSTGRES_URL"]))
        for url in (hub_url, dagster_url):
            assert (url.hostname, url.port) == ("postgres", pg_port), name
            assert url.username == postgres["environment"]["POSTGRES_USER"], name
        assert hub_url.path == f"/{hub_db}"
        assert dagster_url.path == "/hub_dagster"
        assert dagster_url.scheme == "postgresql+psycopg2", "dagster-postgres needs psycopg2"
        redis_url = urlsplit(env["REDIS_URL"])
        assert (redis_url.hostname, redis_url.port) == ("redis", redis_port), name


def test_compose_sets_only_real_settings(services) -> None:
    for name, service in services.items():
        names = set(environment(service))
        if name == "postgres":
            assert names <= POSTGRES_VARS
        elif "build" in service:
            assert names <= SETTINGS | DAGSTER_VARS, (name, names - SETTINGS - DAGSTER_VARS)
        else:
            assert names <= SETTINGS | DAGSTER_VARS | POSTGRES_VARS, name


def test_daemon_and_webserver_have_the_code_locations_settings(services) -> None:
    """Runs are launched with the launching process's instance and settings: the daemon (and
    the webserver) must see what the code location sees."""
    code = {k: v for k, v in environment(services["code-location"]).items() if k in SETTINGS}
    assert code
    for name in ("dagster-daemon", "dagster-webserver", "api", "migrate"):
        env = environment(services[name])
        assert {k: env.get(k) for k in code} == code, name
        assert services[name]["env_file"] == services["code-location"]["env_file"], name
    assert (
        environment(services["code-location"])["DAGSTER_CURRENT_IMAGE"]
        == (services["code-location"]["image"])
    )


def test_compose_interpolations_are_documented(services) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    assert used <= COMPOSE_ONLY, used - COMPOSE_ONLY
    example = (ROOT / ".env.example").read_text()
    for name in used:
        assert re.search(rf"^{name}=", example, re.M), f"{name} missing from .env.example"


def test_env_example_names_only_real_settings() -> None:
    names = re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M)
    assert names
    unknown = set(names) - SETTINGS - COMPOSE_ONLY
    assert not unknown, f".env.example names no setting: {sorted(unknown)}"
    assert len(names) == len(set(names)), "a setting is listed twice"
    for line in (ROOT / ".env.example").read_text().splitlines():
        assert not line.strip() or line.startswith("#") or re.match(r"[A-Z][A-Z0-9_]*=", line)


# -- Dockerfile, .dockerignore -----------------------------------------------------------------


def test_dockerfile_matches_the_compose_file(services) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    home = dockerfile_env("DAGSTER_HOME")
    assert 'cp dagster.yaml "$DAGSTER_HOME/dagster.yaml"' in dockerfile
    for name in ("code-location", "dagster-webserver", "dagster-daemon"):
        assert mounts(services[name])[f"{home}/storage"] == "dagster-storage", name
    exposed = {int(port) for port in re.findall(r"^EXPOSE (.+)$", dockerfile, re.M)[0].split()}
    ports = {
        int(option(services["code-location"]["command"], "-p")),
        int(option(services["dagster-webserver"]["command"], "-p")),
        int(option(services["api"]["command"], "--port")),
    }
    assert ports <= exposed
    release = pinned("dagster-postgres")
    for package in ("dagster-docker", "dagster-k8s"):
        assert f'"{package}=={release}"' in dockerfile, f"{package} at dagster-postgres' release"
    assert dockerfile_env("HUB_CHROMIUM_PATH") == "/usr/bin/chromium"


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".hub", ".git", ".env", "bench/results", "**/__pycache__"} <= ignored
    for needed in ("hub_core", "hub_pipelines", "hub_api", "deploy", "dagster.yaml", "README.md"):
        assert needed not in ignored


# -- Dagster instances -------------------------------------------------------------------------


def test_dagster_instance_config() -> None:
    config = load("dagster.yaml")
    dagster_instance_config(str(ROOT), "dagster.yaml")  # Dagster's own schema
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_POSTGRES_URL"}
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    # one run per source is the pools' doing (one slot, granted per run), nothing else's
    assert config["concurrency"]["pools"] == {"default_limit": 1, "granularity": "run"}
    assert "tag_concurrency_limits" not in config["concurrency"]["runs"]
    assert config["run_retries"]["enabled"] is True
    assert config["run_monitoring"]["enabled"] is True
    assert config["telemetry"]["enabled"] is False


def test_docker_run_launcher_instance(compose: dict[str, Any], services) -> None:
    docker = load("deploy/dagster.docker.yaml")
    dagster_instance_config(str(ROOT / "deploy"), "dagster.docker.yaml")
    base = load("dagster.yaml")
    launcher = docker.pop("run_launcher")
    assert docker == base, "deploy/dagster.docker.yaml is dagster.yaml plus its run launcher"
    assert (launcher["module"], launcher["class"]) == ("dagster_docker", "DockerRunLauncher")
    config = launcher["config"]
    # DockerRunLauncher's schema (dagster_docker.utils.DOCKER_CONFIG_SCHEMA) and its checks
    assert set(config) <= {
        "image",
        "network",
        "networks",
        "env_vars",
        "container_kwargs",
        "registry",
    }
    assert not {"image", "environment", "network"} & set(config.get("container_kwargs", {}))
    assert config["network"] == compose["networks"]["default"]["name"]
    assert config["image"] == services["code-location"]["image"]
    forwarded = config["env_vars"]
    assert len(forwarded) == len(set(forwarded))
    assert set(forwarded) == SETTINGS - API_ONLY, "every setting a run reads is passed on"
    # the run containers mount the compose volumes where the code location does
    named = {key: (volume or {}).get("name", key) for key, volume in compose["volumes"].items()}
    code_mounts = mounts(services["code-location"])
    volumes = config["container_kwargs"]["volumes"]
    for target, source in code_mounts.items():
        if source in named:
            assert volumes[named[source]]["bind"] == target
    assert len(volumes) == len([s for s in code_mounts.values() if s in named])
    assert environment(services["code-location"])["HUB_ARTIFACTS_DIR"] in code_mounts


def test_docker_launcher_override(services) -> None:
    override = load("deploy/docker-compose.docker-launcher.yml")
    home = dockerfile_env("DAGSTER_HOME")
    assert set(override["services"]) <= set(services)
    for name in ("code-location", "dagster-webserver", "dagster-daemon"):
        volumes = mounts(override["services"][name])
        assert volumes[f"{home}/dagster.yaml"] == "./deploy/dagster.docker.yaml", name
    for name in ("dagster-webserver", "dagster-daemon"):
        assert "/var/run/docker.sock" in mounts(override["services"][name]), name
    assert (ROOT / "deploy" / "dagster.docker.yaml").exists()


# -- Helm (official dagster/dagster chart) and Kubernetes manifests ----------------------------


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def test_helm_values_code_location(helm: dict[str, Any], services) -> None:
    user = helm["dagster-user-deployments"]
    assert user["enabled"] is True
    (deployment,) = user["deployments"]
    repository = deployment["image"]["repository"]
    assert repository.rsplit("/", 1)[-1] == image_name(services["api"]["image"])[0]
    assert deployment["image"]["tag"]
    args = deployment["dagsterApiGrpcArgs"]
    assert option(args, "-m", "--module-name") == MODULE
    port = int(option(services["code-location"]["command"], "-p"))
    assert deployment["port"] == port
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    # the location is named as the API launches it, served by the deployment's Service
    workspace = helm["dagsterWebserver"]["workspace"]
    assert workspace["enabled"] is True
    (server,) = workspace["servers"]
    assert server == {"host": deployment["name"], "port": port, "name": CODE_LOCATION}
    # the chart version is the pinned dagster release
    version = re.search(r"--version (\S+)", (ROOT / "deploy/helm/values.yaml").read_text())
    assert version and version.group(1) == pinned("dagster")


def test_helm_values_postgres_and_run_launcher(helm: dict[str, Any], services) -> None:
    postgres = helm["postgresql"]
    assert postgres["enabled"] is False and postgres["postgresqlHost"]
    dagster_db = urlsplit(resolved(environment(services["api"])["DAGSTER_POSTGRES_URL"])).path
    assert f"/{postgres['postgresqlDatabase']}" == dagster_db
    assert helm["generatePostgresqlPasswordSecret"] is False
    assert helm["global"]["postgresqlSecretName"]
    assert "postgresqlPassword" not in postgres, "the password lives in the Secret"

    launcher = helm["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    k8s = launcher["config"]["k8sRunLauncher"]
    (deployment,) = helm["dagster-user-deployments"]["deployments"]
    secrets = {secret["name"] for secret in deployment["envSecrets"]}
    assert secrets and secrets <= {secret["name"] for secret in k8s["envSecrets"]}
    assert {"name": "dshm", "mountPath": "/dev/shm"} in k8s["volumeMounts"]


def test_helm_values_instance_matches_dagster_yaml(helm: dict[str, Any]) -> None:
    base = load("dagster.yaml")
    daemon = helm["dagsterDaemon"]
    coordinator = daemon["runCoordinator"]
    assert coordinator["enabled"] is True and coordinator["type"] == "QueuedRunCoordinator"
    # run limits in `concurrency` only: the chart refuses them in both places
    assert not coordinator["config"]["queuedRunCoordinator"]
    concurrency = helm["concurrency"]
    assert concurrency["enabled"] is True
    runs = base["concurrency"]["runs"]
    assert concurrency["runs"] == {camel(key): value for key, value in runs.items()}
    pools = base["concurrency"]["pools"]
    assert concurrency["pools"] == {camel(key): value for key, value in pools.items()}

    monitoring = dict(base["run_monitoring"])
    max_runtime = monitoring.pop("max_runtime_seconds")
    assert daemon["runMonitoring"] == {camel(key): value for key, value in monitoring.items()}
    job_spec = helm["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]["jobSpecConfig"]
    assert job_spec["activeDeadlineSeconds"] == max_runtime
    retries = base["run_retries"]
    assert daemon["runRetries"] == {camel(key): value for key, value in retries.items()}
    assert helm["telemetry"] == base["telemetry"]


def test_kubernetes_manifests_agree_with_the_chart(helm: dict[str, Any]) -> None:
    (deployment,) = helm["dagster-user-deployments"]["deployments"]
    image = f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    secrets = {secret["name"] for secret in deployment["envSecrets"]}
    documents = [
        document
        for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
    ]
    kinds = {(doc["kind"], doc["metadata"]["name"]): doc for doc in documents}
    assert {("Deployment", "hub-api"), ("Service", "hub-api"), ("Job", "hub-migrate")} <= set(kinds)
    for doc in documents:
        spec = doc["spec"].get("template", {}).get("spec", {})
        for container in spec.get("containers", []):
            assert container["image"] == image, doc["metadata"]["name"]
            refs = {ref["secretRef"]["name"] for ref in container.get("envFrom", [])}
            assert refs == secrets, doc["metadata"]["name"]

    (api,) = kinds[("Deployment", "hub-api")]["spec"]["template"]["spec"]["containers"]
    port = int(option(api["command"], "--port"))
    assert [p["containerPort"] for p in api["ports"]] == [port]
    assert api["readinessProbe"]["httpGet"] == {"path": "/api/v1/health", "port": port}
    assert api["livenessProbe"]["tcpSocket"]["port"] == port
    (service_port,) = kinds[("Service", "hub-api")]["spec"]["ports"]
    assert service_port["targetPort"] == port
    graphql = urlsplit(next(e["value"] for e in api["env"] if e["name"] == "DAGSTER_GRAPHQL_URL"))
    webserver = helm["dagsterWebserver"]
    assert graphql.hostname == f"hub-{webserver['nameOverride']}"  # release `hub`
    assert graphql.port == webserver["service"]["port"] and graphql.path == "/graphql"
    (migrate,) = kinds[("Job", "hub-migrate")]["spec"]["template"]["spec"]["containers"]
    assert migrate["command"] == ["hub", "migrate"]


def test_every_deploy_file_parses() -> None:
    files = sorted((ROOT / "deploy").rglob("*.y*ml"))
    assert len(files) >= 5
    for path in files:
        assert all(doc for doc in yaml.safe_load_all(path.read_text())), path
    readme = (ROOT / "deploy" / "README.md").read_text()
    for path in files:
        assert str(path.relative_to(ROOT / "deploy")) in readme, f"{path} not in deploy/README.md"


def test_readme_points_at_the_deployment_docs() -> None:
    readme = (ROOT / "README.md").read_text()
    for heading in ("## Running it for real", "## Runbook"):
        assert heading in readme
        assert readme.index(heading) < readme.index("## Layout")
    assert "deploy/README.md" in readme and "docker-compose" in readme


def test_paths_named_in_the_deploy_docs_exist() -> None:
    for doc in (ROOT / "deploy" / "README.md", ROOT / "docker-compose.yml"):
        for name in re.findall(r"\bdeploy/[\w./-]+\w", doc.read_text()):
            assert (ROOT / name).exists(), f"{doc.name} names {name}"


def _bytes(size: str) -> int:
    """A Docker size ("2gb", "512m") in bytes."""
    number, unit = re.fullmatch(r"(\d+)\s*([kmg]?)b?", size.strip().lower()).groups()
    return int(number) * 1024 ** " kmg".index(unit or " ")


def test_postgres_has_room_for_the_reconciliations_parallel_hashes(services) -> None:
    """The reconciliation's join runs two parallel hashes at once, each up to work_mem x
    hash_mem_multiplier (PostgreSQL's default 2) x 3 participants (2 workers, the default, and
    the leader), in /dev/shm: under Docker's default 64 MB a big day's parallel join fails
    ("could not resize shared memory segment"; reproduced under a 64 MB tmpfs, fine under 1 GB)
    and is run again without workers, slower (tests/pipelines/recon/test_small_shm.py)."""
    from hub_pipelines.reconcile import RECON_SETTINGS

    work_mem = _bytes(RECON_SETTINGS["work_mem"])
    need = 2 * work_mem * 2 * 3
    assert _bytes(str(services["postgres"]["shm_size"])) >= need
