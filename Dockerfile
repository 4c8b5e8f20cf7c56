# One image for the Dagster webserver, daemon, code location and the API.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/home HUB_CHROMIUM_PATH=/usr/bin/chromium

RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub_core ./hub_core
COPY hub_pipelines ./hub_pipelines
COPY hub_api ./hub_api
COPY hub_sandbox ./hub_sandbox
COPY hub_cli ./hub_cli
COPY alembic.ini workspace.yaml dagster.yaml ./
# dagster-docker and dagster-k8s, at the dagster-postgres release of pyproject.toml: the same
# image runs under the DockerRunLauncher (deploy/dagster.docker.yaml) and the Helm chart's
# K8sRunLauncher (deploy/helm/values.yaml).
RUN pip install --no-cache-dir -e . "dagster-docker==0.29.27" "dagster-k8s==0.29.27" \
    && mkdir -p "$DAGSTER_HOME" && cp dagster.yaml "$DAGSTER_HOME/dagster.yaml"

EXPOSE 3000 4000 8000
CMD ["hub", "api", "--host", "0.0.0.0", "--port", "8000"]
