#!/usr/bin/env node
// quorumgate-host — the installed `quorumgate-host` command: runs the compiled program (npm run build or npm run release makes dist/).
import '../../dist/src/dataplane/host-cli.js';
