// scripts/test-file-times.mjs — a node:test reporter that prints, when the run ends, the slowest test files
// and how long their tests took, so a CI log says where the suite's time goes (scripts/run-tests.mjs adds it
// beside the spec reporter). A file's time is the sum of its top-level tests' durations: the time its
// module takes to load and start before the first test is not counted. Files are named through the source
// maps, so tests declared by a shared helper (a contract suite) count under the helper's file.
// Node loads a custom reporter from its default export, hence the one default export here (STYLE.md
// otherwise asks for named ones).

/** SHOWN is how many of the slowest files are listed. */
const SHOWN = 25;

export default async function* testFileTimes(source) {
  const msByFile = new Map();
  for await (const event of source) {
    if ((event.type !== 'test:pass' && event.type !== 'test:fail') || event.data.nesting !== 0) continue;
    const file = event.data.file ?? '(unknown file)';
    msByFile.set(file, (msByFile.get(file) ?? 0) + (event.data.details?.duration_ms ?? 0));
  }
  if (msByFile.size === 0) return;
  const cwd = `${process.cwd()}/`;
  const rows = [...msByFile].sort((a, b) => b[1] - a[1]);
  const totalS = rows.reduce((sum, [, ms]) => sum + ms, 0) / 1000;
  yield `\ntest-file-times: ${rows.length} files, ${totalS.toFixed(0)} s in tests; the slowest ${Math.min(SHOWN, rows.length)}:\n`;
  for (const [file, ms] of rows.slice(0, SHOWN)) yield `  ${(ms / 1000).toFixed(1).padStart(7)} s  ${file.startsWith(cwd) ? file.slice(cwd.length) : file}\n`;
}
