/**
 * `npm run bench`: runs every benchmark in turn and prints its figures. Each bench module exports run() and can also
 * be run alone with `npx tsx bench/<name>.ts`. Pass names to run a subset: `npm run bench -- parse scoring`.
 */
const BENCHES = ['parse', 'scoring', 'stories', 'pipeline'] as const;

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const selected = wanted.length ? BENCHES.filter((b) => wanted.includes(b)) : [...BENCHES];
let failed = 0;
for (const name of selected) {
  console.log(`\n=== bench/${name}.ts ===`);
  const started = Date.now();
  try {
    const mod = (await import(`./${name}.js`)) as { run: () => Promise<void> };
    await mod.run();
  } catch (err) {
    failed++;
    console.error(`bench ${name} failed:`, err);
  }
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
process.exit(failed ? 1 : 0);
