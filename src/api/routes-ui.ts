// routes-ui.ts — the web dashboard's static assets (docs/dashboard.md), served under /ui/ on the API port.
//
// The assets are built once by scripts/build-ui.mjs into dist/ui/ and ship in the package (no CDN: a
// tactical network may have no internet). They hold no data, so they are served without a token; every
// data request the page makes carries its bearer token. The Content-Security-Policy allows scripts, styles
// and connections from this origin only, and no inline script or style.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { packagePath } from '../wire/index.js';
import { ApiError } from './errors.js';

/** UI_CONTENT_SECURITY_POLICY is sent with every asset: same-origin only, no inline script or style. */
export const UI_CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** MAX_UI_ASSETS and MAX_UI_ASSET_BYTES bound what is read into memory from the build directory. */
const MAX_UI_ASSETS = 32;
const MAX_UI_ASSET_BYTES = 4 * 1024 * 1024;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.map': 'application/json', '.txt': 'text/plain; charset=utf-8',
};

/** uiDirectory is where scripts/build-ui.mjs writes the dashboard (dist/ui under the package root). */
export function uiDirectory(): string {
  return packagePath('dist', 'ui');
}

/** loadAssets reads the built assets once: file name → bytes and content type. Empty when not built. */
export function loadAssets(dir: string): Map<string, { body: Buffer; type: string }> {
  const assets = new Map<string, { body: Buffer; type: string }>();
  if (!existsSync(dir)) return assets;
  for (const name of readdirSync(dir).slice(0, MAX_UI_ASSETS)) {
    const type = CONTENT_TYPES[extname(name)];
    if (type === undefined) continue;
    const body = readFileSync(join(dir, name));
    if (body.length > MAX_UI_ASSET_BYTES) throw new Error(`ui asset ${join(dir, name)}: expected at most ${MAX_UI_ASSET_BYTES} bytes, found ${body.length}`);
    assets.set(name, { body, type });
  }
  return assets;
}

/** uiRoutes registers GET /ui (redirect), GET /ui/ (the page) and GET /ui/:file (its assets). */
export const uiRoutes: FastifyPluginAsync<{ dir?: string }> = async (app, options) => {
  const dir = options.dir ?? uiDirectory();
  const assets = loadAssets(dir);
  const send = (name: string, reply: import('fastify').FastifyReply): import('fastify').FastifyReply => {
    const asset = assets.get(name);
    if (asset === undefined) {
      if (assets.size === 0) throw new ApiError('NOT_FOUND', `the dashboard was not built on this node (no assets in ${dir}); run "npm run build"`);
      throw new ApiError('NOT_FOUND', `no dashboard asset ${JSON.stringify(name)}`);
    }
    return reply.header('content-type', asset.type).header('content-security-policy', UI_CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer')
      .header('cache-control', name === 'index.html' ? 'no-cache' : 'max-age=300').send(asset.body);
  };
  app.get('/ui', async (_request, reply) => reply.redirect('/ui/'));
  app.get('/ui/', async (_request, reply) => send('index.html', reply));
  app.get('/ui/:file', { schema: { params: Type.Object({ file: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' }) }) } }, async (request, reply) =>
    send((request.params as { file: string }).file, reply));
};
