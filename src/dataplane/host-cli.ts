// host-cli.ts — `tsx src/dataplane/host-cli.ts start|stop|status|build-images`: host set-up from the shell
// (deploy/host-setup.sh calls it). Prints one JSON line describing the result.
import { join } from 'node:path';
import { DEFAULT_DATA_DIR, ensureHost, hostPaths, ovsAnswers, dockerAnswers, stopHost } from './host.js';
import { buildAllImages } from './umbox-images.js';
import { DockerUmboxRuntime } from './docker-runtime.js';

async function main(argv: string[]): Promise<number> {
  const command = argv[0] ?? 'start';
  const paths = hostPaths();
  if (command === 'start') {
    console.log(JSON.stringify(await ensureHost(paths)));
  } else if (command === 'stop') {
    await stopHost(paths);
    console.log(JSON.stringify({ stopped: paths }));
  } else if (command === 'status') {
    console.log(JSON.stringify({ paths, ovs: await ovsAnswers(paths), docker: await dockerAnswers(paths.dockerSocket) }));
  } else if (command === 'build-images') {
    await ensureHost(paths);
    const runtime = new DockerUmboxRuntime({ socketPath: paths.dockerSocket, umboxDir: paths.umboxDir });
    console.log(JSON.stringify(await buildAllImages(runtime, join(process.env.QG_DATA_DIR ?? DEFAULT_DATA_DIR, 'umbox-images.json'))));
  } else {
    console.error(`host-cli: unknown command ${JSON.stringify(command)}; expected start, stop, status or build-images`);
    return 2;
  }
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (error: unknown) => {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  process.exit(1);
});
