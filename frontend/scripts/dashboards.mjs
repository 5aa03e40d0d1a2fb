//! `npm run dashboards [-- --check]`: bundles dashboards/generate.ts with esbuild and runs it, writing (or with --check, comparing) provisioning/dashboards/*.json and provisioning/alerting/natsmicro-recipes.json.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { build } from 'esbuild';

const frontend = join(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'natsmicro-dashboards-'));
const outfile = join(tmp, 'generate.mjs');
try {
  await build({
    entryPoints: [join(frontend, 'dashboards/generate.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile,
    logLevel: 'warning',
  });
  const { run, FILES } = await import(pathToFileURL(outfile).href);
  const stale = run(join(frontend, '../provisioning/dashboards'), process.argv.includes('--check'));
  console.log(`dashboards: ${FILES - stale} passed, ${stale} failed`);
  process.exitCode = stale ? 1 : 0;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
