// format-version.ts — one wording for every refusal of data written in a newer major format (the Raft
// store, log entries, runtime snapshots, snapshot files, the data directory's mark), so an operator in the
// middle of an upgrade is always told the same thing: which data, which versions, and what to do.

/** newerFormatAdvice is the message for data written by a newer major format than this build reads. */
export function newerFormatAdvice(what: string, found: number, supported: number): string {
  return `${what} has format version ${found}, newer than the ${supported} this quorumgate reads: it was written by a newer release; `
    + 'upgrade quorumgate on this host (npm install -g the newer release tarball) and start it again';
}
