#!/usr/bin/env bash
# Make PostgreSQL and Redis answer: the configured ones, else this machine's services (Debian:
# pg_ctlcluster, redis-server), else embedded ones under .hub/ (extra `embedded`). Writes their
# URLs to .hub/services.env (`set -a; source .hub/services.env; set +a`). The logic lives in
# hub_core/devservices.py; `make demo`, `make test` and .ci/run call it directly. Arguments are
# passed on, e.g. `scripts/services.sh --embedded`; `python -m hub_core.devservices stop` stops
# the embedded ones.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3  # without the virtualenv: reachability and the machine's services only
exec "$PY" -m hub_core.devservices ensure "$@"
