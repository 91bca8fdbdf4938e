// proto.ts — loads proto/raft.proto and proto/transport.proto once, at runtime, from the
// repository root, so the same code works under tsx (src/) and compiled (dist/src/).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** MAX_ROOT_SEARCH_DEPTH bounds the walk up from this file to the directory holding package.json. */
const MAX_ROOT_SEARCH_DEPTH = 8;

/** findRepositoryRoot returns the nearest directory above this file that holds package.json and proto/. */
export function findRepositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < MAX_ROOT_SEARCH_DEPTH; depth++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'proto'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new Error(`proto: no package.json with proto/ above ${fileURLToPath(import.meta.url)}`);
}

let cachedRoot: protobuf.Root | undefined;

/** protoRoot returns the loaded schema (raft.proto and transport.proto). */
export function protoRoot(): protobuf.Root {
  if (cachedRoot === undefined) {
    const protoDir = join(findRepositoryRoot(), 'proto');
    cachedRoot = protobuf.loadSync([join(protoDir, 'raft.proto'), join(protoDir, 'transport.proto')]);
    cachedRoot.resolveAll();
  }
  return cachedRoot;
}

/** protoType looks up a message type by its full name, e.g. `quorumgate.raft.Message`. */
export function protoType(fullName: string): protobuf.Type {
  return protoRoot().lookupType(fullName);
}
