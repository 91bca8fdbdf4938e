#!/usr/bin/env node
// quorumgate-node — the installed `quorumgate-node` command: runs the compiled program (npm run build or npm run release makes dist/).
import '../../dist/src/node/main.js';
