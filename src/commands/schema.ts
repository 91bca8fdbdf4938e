// schema.ts — the protobuf types of proto/commands.proto, parsed once from the file shipped with the
// package (located from the package root, so it works from src/ under tsx and from dist/src/ after tsc).
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { packagePath } from './repo-root.js';

/** CommandTypes holds the reflected protobuf message types this module encodes and decodes. */
export interface CommandTypes {
  signedCommand: protobuf.Type;
  commandBody: protobuf.Type;
}

let cached: CommandTypes | undefined;

/** commandTypes returns the parsed schema, reading proto/commands.proto on first use only. */
export function commandTypes(): CommandTypes {
  if (cached !== undefined) return cached;
  const source = readFileSync(packagePath('proto', 'commands.proto'), 'utf8');
  const root = protobuf.parse(source, { keepCase: true }).root;
  root.resolveAll();
  cached = {
    signedCommand: root.lookupType('quorumgate.commands.SignedCommand'),
    commandBody: root.lookupType('quorumgate.commands.CommandBody'),
  };
  return cached;
}
