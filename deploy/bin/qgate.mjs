#!/usr/bin/env node
// qgate — the installed `qgate` command: runs the compiled program (npm run build or npm run release makes dist/).
import '../../dist/src/cli/main.js';
