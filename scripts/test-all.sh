#!/usr/bin/env bash
# scripts/test-all.sh — the one test command (README.md): set up, lint, type-check, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "test-all: lint"
npx eslint .
echo "test-all: tests"
node scripts/run-tests.mjs
