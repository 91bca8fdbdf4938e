#!/usr/bin/env bash
# scripts/setup.sh — idempotent set-up for a fresh Debian machine (root, Node 20):
# the Debian packages quorumgate's tests and main job use, then the npm packages, then a build.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

debian_packages=(openvswitch-switch docker.io etcd-server etcd-client iproute2 nftables iptables busybox-static ethtool procps psmisc mosquitto mosquitto-clients chromium openssl)
missing=()
for pkg in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ -L node_modules ]]; then
  # A checkout sharing another's packages (a git worktree): npm ci would empty them through the link.
  echo "setup: node_modules is a link to $(readlink node_modules); not reinstalling through it"
elif [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "setup: building"
npm run build --silent

# qgate and the node program on PATH, as an installed release puts them (links to this checkout's build;
# running set-up again replaces them).
for command in qgate quorumgate-node quorumgate-host; do
  ln -sfn "$PWD/deploy/bin/$command.mjs" "/usr/local/bin/$command"
done
