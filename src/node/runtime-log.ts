// runtime-log.ts — the node's log file, bounded in size and rotated.
//
// Node logs were appended to node.log forever (issue 15: a connection flood wrote 17.7 MB in 40 s).
// With --log-file, the node writes its log itself through pino's own destination (sonic-boom,
// synchronous, as pino writes to stdout) and rotates by size: when the file passes maxBytes it
// becomes FILE.1 (FILE.1 becomes FILE.2, ..., the oldest beyond `files` is deleted) and a new FILE
// is opened, as logrotate's `copytruncate`-free rotation does with pino's reopen(). The disk used is
// at most about (files + 1) x maxBytes. Without --log-file the node logs to stdout, for journald or
// a supervisor that rotates (e.g. logrotate with `copytruncate`).
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { pino } from 'pino';
import type { DestinationStream } from 'pino';

/** DEFAULT_LOG_MAX_BYTES: a log file is rotated once it passes 10 MiB. */
export const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;
/** DEFAULT_LOG_FILES: rotated files kept besides the current one. */
export const DEFAULT_LOG_FILES = 3;

/** RotatingLogInit says where the log goes and how much of it is kept. */
export interface RotatingLogInit {
  readonly file: string;
  /** maxBytes: the size at which the file is rotated (default 10 MiB). */
  readonly maxBytes?: number;
  /** files: rotated files kept, FILE.1 newest (default 3). */
  readonly files?: number;
}

/** RotatingLog is a pino destination that rotates its file by size. */
export interface RotatingLog extends DestinationStream {
  /** rotations counts the rotations since the log was opened. */
  readonly rotations: number;
  /** flush writes what is buffered (a no-op for the synchronous destination, kept for symmetry). */
  flush(): void;
}

/** rotatingLog opens `init.file` for appending and returns a destination that rotates it by size. */
export function rotatingLog(init: RotatingLogInit): RotatingLog {
  const maxBytes = init.maxBytes ?? DEFAULT_LOG_MAX_BYTES;
  const files = init.files ?? DEFAULT_LOG_FILES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1024) throw new RangeError(`log max bytes: expected an integer >= 1024, got ${maxBytes}`);
  if (!Number.isSafeInteger(files) || files < 1 || files > 100) throw new RangeError(`log files: expected an integer from 1 to 100, got ${files}`);
  const destination = pino.destination({ dest: init.file, sync: true, mkdir: true, append: true });
  let bytes = existsSync(init.file) ? statSync(init.file).size : 0;
  let rotations = 0;
  const rotate = (): void => {
    rmSync(`${init.file}.${files}`, { force: true });
    for (let i = files - 1; i >= 1; i--) {
      if (existsSync(`${init.file}.${i}`)) renameSync(`${init.file}.${i}`, `${init.file}.${i + 1}`);
    }
    renameSync(init.file, `${init.file}.1`);
    destination.reopen();
    bytes = 0;
    rotations += 1;
  };
  return {
    write(chunk: string): void {
      destination.write(chunk);
      bytes += Buffer.byteLength(chunk);
      if (bytes >= maxBytes) rotate();
    },
    get rotations(): number {
      return rotations;
    },
    flush(): void {
      destination.flushSync();
    },
  };
}
