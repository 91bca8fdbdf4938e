#!/usr/bin/env bash
# deploy/host-setup.sh — bootstrap only: installs what the data plane needs and starts a private Open vSwitch
# and Docker engine (logic in src/dataplane/host.ts). Usage: deploy/host-setup.sh [start|stop|status|build-images]
# Directories: QG_RUN_DIR (default /run/quorumgate), QG_DATA_DIR (default /var/lib/quorumgate).
set -euo pipefail
cd "$(dirname "$0")/.."
exec npx tsx src/dataplane/host-cli.ts "${1:-start}"
