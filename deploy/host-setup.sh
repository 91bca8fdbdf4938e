#!/usr/bin/env bash
# deploy/host-setup.sh — bootstrap only: installs what the data plane needs and starts a private Open vSwitch
# and Docker engine (logic in src/dataplane/host.ts). Usage: deploy/host-setup.sh [start|stop|status|build-images]
# Directories: QG_RUN_DIR (default /run/quorumgate), QG_DATA_DIR (default /var/lib/quorumgate).
# In a checkout it runs the TypeScript source; in an installed release (no src/) the compiled program, the
# same as the `quorumgate-host` command.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -f src/dataplane/host-cli.ts ]]; then
  exec npx tsx src/dataplane/host-cli.ts "${1:-start}"
fi
exec node dist/src/dataplane/host-cli.js "${1:-start}"
