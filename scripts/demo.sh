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

bash scripts/services.sh

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

START=$(date -u -d '6 days ago' +%F)
TODAY=$(date -u +%F)
"$BIN/hub" sandbox --start "$START" --days 7 --per-day 2000 --live \
    --vima-port 8081 --payshack-port 8082 >"$LOGS/sandbox.log" 2>&1 &
pids+=($!)
"$BIN/dagster-webserver" -w workspace.yaml -h 127.0.0.1 -p 3000 >"$LOGS/webserver.log" 2>&1 &
pids+=($!)
"$BIN/dagster-daemon" run -w workspace.yaml >"$LOGS/daemon.log" 2>&1 &
pids+=($!)

echo "waiting for Dagster..."
for _ in $(seq 1 90); do
    curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
        -d '{"query":"{ version }"}' "$DAGSTER_GRAPHQL_URL" && break
    sleep 1
done
for job in vima_sync payshack_sync; do
    "$BIN/dagster" job backfill -w workspace.yaml -j "$job" --from "$START" --to "$TODAY" \
        --noprompt >>"$LOGS/backfill.log" 2>&1 || echo "backfill of $job not submitted (see $LOGS/backfill.log)"
done

READER_KEY=$(echo "$HUB_API_KEYS" | cut -d, -f1 | cut -d: -f1)
cat <<INFO

Payment Hub demo
  API          http://127.0.0.1:8000/api/v1/health   (docs: /api/v1/docs)
  API key      $READER_KEY   (reader; operator key in .hub/demo.env)
  Dagster UI   http://127.0.0.1:3000
  Vima sandbox http://127.0.0.1:8081   PayShack dashboard http://127.0.0.1:8082
  Logs         $LOGS
INFO
"$BIN/hub" api --host 127.0.0.1 --port 8000
