#!/usr/bin/env bash
# `make demo`: a running hub on this machine, fed by the sandbox providers.
#   services -> migrations -> sandbox (live) -> Dagster webserver + daemon -> backfill of the
#   last days -> API in the foreground. Ctrl-C stops everything it started.
# Demo credentials are generated once into .hub/demo.env (never committed).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN="$ROOT/.venv/bin"
HUB_DIR="$ROOT/.hub"
LOGS="$HUB_DIR/logs"
mkdir -p "$LOGS" "$HUB_DIR/dagster"

"$BIN/python" -m hub_core.devservices ensure --env-file "$HUB_DIR/services.env"
set -a; source "$HUB_DIR/services.env"; set +a

if [ ! -f "$HUB_DIR/demo.env" ]; then
    rnd() { "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(18))'; }
    cat > "$HUB_DIR/demo.env" <<ENV
VIMA_API_KEY=$(rnd)
PAYSHACK_EMAIL=ops@demo.payshack.test
PAYSHACK_PASSWORD=$(rnd)
HUB_SECRET_KEY=$(rnd)
HUB_API_KEYS=$(rnd):reader,$(rnd):operator
ENV
fi
set -a
# shellcheck disable=SC1091
source "$HUB_DIR/demo.env"
set +a
READER_KEY=$(echo "$HUB_API_KEYS" | cut -d, -f1 | cut -d: -f1)
OPERATOR_KEY=$(echo "$HUB_API_KEYS" | cut -d, -f2 | cut -d: -f1)
if [ -n "${HUB_DEMO_API_KEY:-}" ]; then  # your own operator key, e.g. for a dashboard
    OPERATOR_KEY=$HUB_DEMO_API_KEY
    export HUB_API_KEYS="$READER_KEY:reader,$OPERATOR_KEY:operator"
fi
# A terminal is for people: human-readable logs (services keep JSON, the default).
export HUB_LOG_JSON="${HUB_LOG_JSON:-false}"
export DAGSTER_HOME="$HUB_DIR/dagster"
cp dagster.yaml "$DAGSTER_HOME/dagster.yaml"
# dagster.yaml reads its storage URL from the environment; take it from the hub settings.
DAGSTER_POSTGRES_URL=$("$BIN/python" -c \
    'from hub_core.settings import get_settings; print(get_settings().dagster_postgres_url)')
export DAGSTER_POSTGRES_URL
export HUB_CHROMIUM_PATH="${HUB_CHROMIUM_PATH:-$(command -v chromium || true)}"
export VIMA_BASE_URL=http://127.0.0.1:8081 PAYSHACK_BASE_URL=http://127.0.0.1:8082
export DAGSTER_GRAPHQL_URL=http://127.0.0.1:3000/graphql

"$BIN/hub" migrate

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# The sandbox's week (GNU and BSD `date` differ: ask Python). Its providers hold nothing before
# START, so the hub's partitions begin there too: the first day's reconciliation does not wait
# for a neighbour day that no provider will ever have.
read -r START TODAY < <("$BIN/python" -c 'import datetime as d
today = d.datetime.now(d.UTC).date()
print(today - d.timedelta(days=6), today)')
export HUB_START_DATE="$START"
"$BIN/hub" sandbox --start "$START" --days 7 --per-day 2000 --live \
    --vima-port 8081 --payshack-port 8082 >"$LOGS/sandbox.log" 2>&1 &
pids+=($!)
# Dagster runs from .hub/: it loads a `.env` of its working directory over the environment,
# and the environment above (demo credentials, the services chosen) must win.
WORKSPACE="$ROOT/workspace.yaml"
(cd "$HUB_DIR" && exec "$BIN/dagster-webserver" -w "$WORKSPACE" -h 127.0.0.1 -p 3000) \
    >"$LOGS/webserver.log" 2>&1 &
pids+=($!)
(cd "$HUB_DIR" && exec "$BIN/dagster-daemon" run -w "$WORKSPACE") >"$LOGS/daemon.log" 2>&1 &
pids+=($!)

printf "starting Dagster (webserver and daemon, ~10 s)"
ready=""
for _ in $(seq 1 90); do
    if curl -fs -o /dev/null -X POST -H 'Content-Type: application/json' \
        -d '{"query":"{ version }"}' "$DAGSTER_GRAPHQL_URL" 2>/dev/null; then
        ready=yes
        break
    fi
    printf "."
    sleep 1
done
if [ -z "$ready" ]; then
    echo " Dagster did not answer within 90 s: see $LOGS/webserver.log" >&2
    exit 1
fi
echo " ready"
for job in vima_sync payshack_sync; do
    (cd "$HUB_DIR" && "$BIN/dagster" job backfill -w "$WORKSPACE" -j "$job" \
        --from "$START" --to "$TODAY" --noprompt) >>"$LOGS/backfill.log" 2>&1 \
        || echo "backfill of $job not submitted (see $LOGS/backfill.log)"
done

cat <<INFO

  Payment Hub is running (sandbox providers, live: new payments every few seconds)

  Dagster UI     http://127.0.0.1:3000        (a backfill of $START..$TODAY is running)
  API docs       http://127.0.0.1:8000/api/v1/docs
  Reader key     $READER_KEY
  Operator key   $OPERATOR_KEY
  Try            curl -s -H "X-API-Key: $READER_KEY" "http://127.0.0.1:8000/api/v1/metrics/overview?from_date=$START&to_date=$TODAY"
  Providers      Vima http://127.0.0.1:8081   PayShack dashboard http://127.0.0.1:8082
  Logs           $LOGS   (Ctrl-C stops everything)

INFO
"$BIN/hub" api --host 127.0.0.1 --port 8000
