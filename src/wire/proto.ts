// proto.ts — loads the protobuf schemas of proto/ once, at runtime, from the package root (found by
// package-root.ts, so the same code works under tsx from src/ and compiled from dist/src/). Every
// protobuf schema of quorumgate is loaded here: the Raft messages and transport frames (one root, field
// names converted to camelCase) and the signed commands (their own root, field names kept as written,
// which the command codec relies on).
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { packagePath } from './package-root.js';

let cachedRoot: protobuf.Root | undefined;

/** protoRoot returns the loaded schema of proto/raft.proto and proto/transport.proto. */
export function protoRoot(): protobuf.Root {
  if (cachedRoot === undefined) {
    cachedRoot = protobuf.loadSync([packagePath('proto', 'raft.proto'), packagePath('proto', 'transport.proto')]);
    cachedRoot.resolveAll();
  }
  return cachedRoot;
}

/** protoType looks up a message type by its full name, e.g. `quorumgate.raft.Message`. */
export function protoType(fullName: string): protobuf.Type {
  return protoRoot().lookupType(fullName);
}

/** CommandTypes holds the reflected protobuf message types of proto/commands.proto. */
export interface CommandTypes {
  signedCommand: protobuf.Type;
  commandBody: protobuf.Type;
}

let cachedCommandTypes: CommandTypes | undefined;

/** commandTypes returns the parsed schema of proto/commands.proto, reading the file on first use only. */
export function commandTypes(): CommandTypes {
  if (cachedCommandTypes !== undefined) return cachedCommandTypes;
  const source = readFileSync(packagePath('proto', 'commands.proto'), 'utf8');
  const root = protobuf.parse(source, { keepCase: true }).root;
  root.resolveAll();
  cachedCommandTypes = {
    signedCommand: root.lookupType('quorumgate.commands.SignedCommand'),
    commandBody: root.lookupType('quorumgate.commands.CommandBody'),
  };
  return cachedCommandTypes;
}
