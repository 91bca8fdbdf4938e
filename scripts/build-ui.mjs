// build-ui.mjs — bundles the web dashboard (src/ui, Preact + uPlot + dagre) with esbuild into dist/ui/, the
// directory src/api/routes-ui.ts serves under /ui/. Every asset ships in the package (no CDN). Run by
// `npm run build`; `node scripts/build-ui.mjs` alone rebuilds only the dashboard.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'ui');
const require = createRequire(import.meta.url);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(root, 'src', 'ui', 'main.tsx')],
  outfile: join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
});
copyFileSync(join(root, 'src', 'ui', 'index.html'), join(out, 'index.html'));
copyFileSync(join(root, 'src', 'ui', 'app.css'), join(out, 'app.css'));
copyFileSync(require.resolve('uplot/dist/uPlot.min.css'), join(out, 'uPlot.min.css'));
console.log(`build-ui: wrote ${out}`);
