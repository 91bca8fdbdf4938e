#!/usr/bin/env bash
# scripts/demo.sh — the main job (README.md): installs what it needs, then runs the 3-gateway demo.
#   bash scripts/demo.sh          bring the demo up (and leave it running)
#   bash scripts/demo.sh down     tear it down
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
exec node --enable-source-maps dist/cluster/demo.js "$@"
