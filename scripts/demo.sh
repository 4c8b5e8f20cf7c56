#!/usr/bin/env bash
# `make demo`: services, migrations, then the API in the foreground. It grows with the hub.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
.venv/bin/hub migrate
echo "API: http://127.0.0.1:8000/api/v1/health  (docs: /api/v1/docs)"
exec .venv/bin/hub api --host 127.0.0.1 --port 8000
