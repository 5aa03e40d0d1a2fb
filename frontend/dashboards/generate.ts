//! Writes the provisioned dashboards (provisioning/dashboards/<uid>.json) and the alert recipes (provisioning/alerting/natsmicro-recipes.json) from their TypeScript builders; with `--check`, fails when a checked-in file differs from what the builders make.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { recipes } from './alerts';
import { healthDashboard } from './health';
import { servicesDashboard } from './services';

/** How many files `run` writes or checks. */
export const FILES = 3;

export function run(outDir: string, check: boolean): number {
  let stale = 0;
  const files: Array<[string, unknown]> = [
    ...[servicesDashboard(), healthDashboard()].map((d): [string, unknown] => [join(outDir, `${d.uid}.json`), d]),
    [join(outDir, '../alerting/natsmicro-recipes.json'), recipes()],
  ];
  for (const [file, d] of files) {
    const text = `${JSON.stringify(d, null, 2)}\n`;
    let current = '';
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      current = '';
    }
    if (current === text) {
      console.log(`dashboards: ${file} is current`);
    } else if (check) {
      stale += 1;
      console.log(`dashboards: ${file} differs from its builder (run \`npm run dashboards\` in frontend/)`);
    } else {
      writeFileSync(file, text);
      console.log(`dashboards: wrote ${file}`);
    }
  }
  return stale;
}
