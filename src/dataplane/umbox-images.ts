// umbox-images.ts — builds the μmbox images locally (no registry is reachable): a root filesystem of
// busybox-static, /usr/sbin/nft and the libraries `ldd` lists for it, plus the image's scripts from
// deploy/umbox/<name>/ and deploy/umbox/common/, packed as a reproducible tar (sorted names, mtime 0,
// owner 0, fixed modes) and `docker import`ed. The pin of an image is the sha256 of that tar, which the
// engine reports as the image's RootFS.Layers[0]; building twice on the same host gives the same pin.
import { chmodSync, copyFileSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { DataplaneError } from './errors.js';
import { run } from './exec.js';
import { imageReference } from './docker-runtime.js';

/** UMBOX_IMAGES are the images deploy/umbox/ has recipes for. */
export const UMBOX_IMAGES = ['monitor', 'firewall', 'rate-limit', 'block-all'] as const;

/** UmboxImageName is one of UMBOX_IMAGES. */
export type UmboxImageName = (typeof UMBOX_IMAGES)[number];

/** BuiltImage is one built image: its pin and local reference. */
export interface BuiltImage {
  image: string;
  digest: string;
  reference: string;
  tarBytes: number;
}

/** recipesDir is deploy/umbox of this checkout, found from this file (src/ or dist/src/). */
export function recipesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth++) {
    if (existsSync(join(dir, 'deploy', 'umbox', 'common', 'start'))) return join(dir, 'deploy', 'umbox');
    dir = dirname(dir);
  }
  throw new DataplaneError('image_build_failed', `deploy/umbox/common/start not found above ${fileURLToPath(import.meta.url)}`);
}

/** buildImageTar writes the reproducible root-filesystem tar of `image` to `tarPath` and returns its digest. */
export async function buildImageTar(image: string, tarPath: string, recipes = recipesDir()): Promise<string> {
  const recipe = join(recipes, image);
  if (!existsSync(join(recipe, 'rules'))) throw new DataplaneError('image_build_failed', `no recipe for μmbox image ${JSON.stringify(image)} in ${recipes}`);
  const root = mkdtempSync(join(tmpdir(), `qg-umbox-${image}-`));
  try {
    for (const dir of ['bin', 'usr/sbin', 'umbox', 'run/umbox', 'tmp', 'etc', 'proc', 'sys', 'dev']) mkdirSync(join(root, dir), { recursive: true });
    copyExecutable('/bin/busybox', join(root, 'bin/busybox'));
    const applets = (await run('/bin/busybox', ['--list'])).stdout.split('\n').map((line) => line.trim()).filter((name) => /^[a-z0-9[\]_-]+$/.test(name) && name !== 'busybox');
    for (const applet of applets) symlinkSync('busybox', join(root, 'bin', applet));
    copyExecutable('/usr/sbin/nft', join(root, 'usr/sbin/nft'));
    for (const library of await sharedLibraries('/usr/sbin/nft')) {
      mkdirSync(join(root, dirname(library)), { recursive: true });
      copyExecutable(library, join(root, library));
    }
    copyExecutable(join(recipes, 'common', 'start'), join(root, 'umbox/start'));
    for (const script of readdirSync(recipe).sort()) copyExecutable(join(recipe, script), join(root, 'umbox', script));
    writeFileSync(join(root, 'etc/umbox-image'), `${image}\n`);
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/:/bin/sh\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');
    await run('chmod', ['-R', 'u=rwX,go=rX', join(root, 'etc'), join(root, 'run'), join(root, 'proc'), join(root, 'sys'), join(root, 'dev')]);
    chmodSync(join(root, 'tmp'), 0o1777);
    chmodSync(root, 0o755);
    await run('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=gnu', '-C', root, '-cf', tarPath, '.'], { timeoutMs: 60_000 });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return `sha256:${createHash('sha256').update(readFileSync(tarPath)).digest('hex')}`;
}

/** sharedLibraries lists the absolute paths `ldd` prints for a binary (the loader included). */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await run('ldd', [binary]);
  const paths = new Set<string>();
  for (const line of stdout.split('\n')) {
    const match = /(?:=>\s*)?(\/[^\s]+)\s+\(0x/.exec(line);
    if (match?.[1]) paths.add(match[1]);
  }
  if (paths.size === 0) throw new DataplaneError('image_build_failed', `ldd ${binary} listed no libraries: ${stdout.slice(0, 500)}`);
  return [...paths].sort();
}

function copyExecutable(from: string, to: string): void {
  copyFileSync(from, to); // follows symlinks: the image holds the real file under the name ldd printed.
  chmodSync(to, 0o755);
}

/** ImageImporter is the part of the engine the build needs (dockerode's Docker). */
export interface ImageImporter {
  readonly docker: Docker;
}

/** buildImage builds `image`, imports it as qg-umbox/<image>:<12 hex> and checks the engine reports the same digest. */
export async function buildImage(runtime: ImageImporter, image: string, recipes = recipesDir()): Promise<BuiltImage> {
  const dir = mkdtempSync(join(tmpdir(), 'qg-umbox-tar-'));
  try {
    const tarPath = join(dir, `${image}.tar`);
    const digest = await buildImageTar(image, tarPath, recipes);
    const reference = imageReference(image, digest);
    const [repo, tag] = reference.split(':') as [string, string];
    const existing = await runtimeImageLayers(runtime, reference);
    if (existing === null || existing[0] !== digest) {
      const stream = await runtime.docker.importImage(createReadStream(tarPath), { repo, tag });
      await new Promise<void>((resolve, reject) => runtime.docker.modem.followProgress(stream, (error: Error | null) => (error ? reject(error) : resolve())));
    }
    const layers = await runtimeImageLayers(runtime, reference);
    if (layers === null || layers.length !== 1 || layers[0] !== digest) {
      throw new DataplaneError('image_build_failed', `imported ${reference} reports layers ${JSON.stringify(layers)}, expected [${digest}]`);
    }
    return { image, digest, reference, tarBytes: readFileSync(tarPath).length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runtimeImageLayers(runtime: ImageImporter, reference: string): Promise<string[] | null> {
  try {
    return (await runtime.docker.getImage(reference).inspect()).RootFS.Layers ?? [];
  } catch (cause) {
    if ((cause as { statusCode?: number }).statusCode === 404) return null;
    throw cause;
  }
}

/** ImageManifest records the pins of the built images (written to <data dir>/umbox-images.json). */
export interface ImageManifest {
  images: Record<string, { digest: string; reference: string }>;
}

/** buildAllImages builds every image in UMBOX_IMAGES and writes the manifest to `manifestPath` when given. */
export async function buildAllImages(runtime: ImageImporter, manifestPath?: string): Promise<ImageManifest> {
  const manifest: ImageManifest = { images: {} };
  for (const image of UMBOX_IMAGES) {
    const built = await buildImage(runtime, image);
    manifest.images[image] = { digest: built.digest, reference: built.reference };
  }
  if (manifestPath !== undefined) {
    mkdirSync(dirname(manifestPath), { recursive: true });
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  }
  return manifest;
}
