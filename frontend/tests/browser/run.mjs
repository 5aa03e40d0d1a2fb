//! `npm run test:browser`: unit tests of the preview modules, then the built plugins in headless Chromium against the preview host, the real backend, nats-server and micro services; finding no tests fails.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import * as cases from './cases.mjs';
import { KnownGap, TESTS } from './cases.mjs';
import { BASE_FLAGS, CHROMIUM } from './chromium.mjs';
import { FRONTEND, REPO, freePort, startNats, startPreview, startService, stopAll } from './fixtures.mjs';

const TEST_TIMEOUT_MS = 120000;
const LOG_DIR = join(FRONTEND, 'test-results/browser');
const PLUGIN_BIN = process.env.NATSMICRO_PLUGIN_BIN || join(REPO, 'target/release/gpx_natsmicro');

const log = (line) => console.log(`  · ${line}`);

/** node:test over tests/preview/*.test.mjs; prints its own count line. Finding no tests is a failure. */
function unitTests() {
  const dir = join(FRONTEND, 'tests/preview');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.test.mjs')) : [];
  if (!files.length) {
    console.log(`FAIL preview unit (node:test): no *.test.mjs files in ${dir}`);
    console.log('preview unit (node:test): 0 passed, 1 failed');
    return { passed: 0, failed: 1 };
  }
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', ...files.map((f) => join(dir, f))], {
    cwd: FRONTEND,
    encoding: 'utf8',
  });
  const count = (k) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(r.stdout)?.[1] ?? 0);
  // node:test reports a file that defines no test as one passing test named by the file's path.
  const lines = r.stdout.split('\n');
  const empty = files.filter((f) => lines.some((l) => /^(not )?ok \d+ - /.test(l) && l.endsWith(` - ${join(dir, f)}`)));
  const passed = count('pass') - empty.length;
  const failed = count('fail') + (r.status !== 0 && count('fail') === 0 ? 1 : 0) + empty.length;
  if (failed) {
    process.stdout.write(r.stdout + r.stderr);
  }
  for (const f of empty) {
    console.log(`FAIL preview unit (node:test): ${join(dir, f)} defines no test`);
  }
  console.log(`preview unit (node:test): ${passed} passed, ${failed} failed`);
  return { passed, failed };
}

function newestMtime(dir) {
  let newest = 0;
  for (const f of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, f.name);
    newest = Math.max(newest, f.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** The Grafana and React versions this package is installed with; with NATSMICRO_GRAFANA_SET, they must be that set's. */
function grafanaSet() {
  const version = (name) =>
    JSON.parse(readFileSync(join(FRONTEND, 'node_modules', name, 'package.json'), 'utf8')).version;
  const set = { grafana: version('@grafana/data'), react: version('react') };
  const want = process.env.NATSMICRO_GRAFANA_SET;
  if (want && !set.grafana.startsWith(`${want}.`)) {
    throw new Error(`NATSMICRO_GRAFANA_SET=${want}, but this package has @grafana/data ${set.grafana}`);
  }
  return set;
}

/** What must exist before anything starts; rebuilds only the preview host app when its sources are newer. */
async function prerequisites() {
  const missing = ['natsmicro-datasource', 'natsmicro-ping-panel'].filter(
    (id) => !existsSync(join(FRONTEND, 'dist', id, 'module.js'))
  );
  if (missing.length) {
    throw new Error(`no built frontend for ${missing.join(', ')}: run \`npm run build\` in frontend/`);
  }
  if (!existsSync(PLUGIN_BIN)) {
    throw new Error(`no backend binary ${PLUGIN_BIN}: run \`cargo build --release --bin gpx_natsmicro\``);
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM} (set CHROMIUM_BIN)`);
  }
  const bundle = join(FRONTEND, 'preview/build/host.js');
  const stale = !existsSync(bundle) || statSync(bundle).mtimeMs < newestMtime(join(FRONTEND, 'preview/host'));
  if (stale) {
    const { buildHost } = await import('../../preview/build.mjs');
    const r = await buildHost();
    log(`preview host app rebuilt in ${(r.ms / 1000).toFixed(1)} s`);
  }
}

async function world() {
  mkdirSync(LOG_DIR, { recursive: true });
  for (const f of ['nats.log', 'services.log', 'preview.log']) {
    rmSync(join(LOG_DIR, f), { force: true });
  }
  const nats = await startNats(join(LOG_DIR, 'nats.log'));
  const svcLog = join(LOG_DIR, 'services.log');
  const started = await Promise.all([
    startService(nats.url, 'orders', {
      instances: 2,
      version: '1.2.0',
      endpoints: ['get:orders.get'],
      logPath: svcLog,
    }),
    startService(nats.url, 'orders', {
      instances: 1,
      version: '1.2.0',
      endpoints: ['get:orders.get'],
      logPath: svcLog,
    }),
    startService(nats.url, 'billing', {
      instances: 2,
      version: '2.0.1',
      endpoints: ['charge:billing.charge'],
      logPath: svcLog,
    }),
    startService(nats.url, 'inventory', {
      instances: 1,
      version: '0.9.0',
      endpoints: ['stock:inventory.stock'],
      logPath: svcLog,
    }),
  ]);
  started[1].killable = true;
  log(`nats-server ${nats.url}; services: ${started.map((s) => `${s.name}×${s.ids.length}`).join(', ')}`);
  const closedUrl = `nats://127.0.0.1:${await freePort()}`;
  const preview = await startPreview({
    natsUrl: nats.url,
    pluginBin: PLUGIN_BIN,
    logPath: join(LOG_DIR, 'preview.log'),
  });
  log(`preview ${preview.base} (log: ${join(LOG_DIR, 'preview.log')})`);
  return { natsUrl: nats.url, closedUrl, services: started, base: preview.base };
}

function watch(page, t) {
  page.on('pageerror', (e) => t.pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() !== 'error') {
      return;
    }
    if (t.expectHttpErrors && /Failed to load resource: the server responded with a status of 400/.test(m.text())) {
      return;
    }
    t.consoleErrors.push(`${m.text()} (${m.location().url})`);
  });
  page.on('response', (r) => {
    const url = r.url();
    const expected = t.expectHttpErrors && r.status() === 400 && /\/health$/.test(new URL(url).pathname);
    t.requests.push({ url, status: r.status(), method: r.request().method(), expected });
  });
  page.on('requestfailed', (r) => {
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') {
      t.failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
    }
  });
}

/** What is wrong with the list of browser tests: none at all, entries that are no test, test functions left out. */
function listProblems() {
  if (!TESTS.length) {
    return ['no browser tests found: TESTS in tests/browser/cases.mjs is empty'];
  }
  const problems = [];
  const notTests = TESTS.filter((f) => typeof f !== 'function');
  if (notTests.length) {
    problems.push(`TESTS in tests/browser/cases.mjs holds ${notTests.length} entries that are not functions`);
  }
  if (new Set(TESTS).size !== TESTS.length) {
    problems.push('TESTS in tests/browser/cases.mjs lists a test twice');
  }
  const left = Object.entries(cases)
    .filter(([, f]) => typeof f === 'function' && f !== KnownGap && !TESTS.includes(f))
    .map(([name]) => name);
  if (left.length) {
    problems.push(`exported from tests/browser/cases.mjs but not in TESTS (never run): ${left.join(', ')}`);
  }
  return problems;
}

async function main() {
  const unit = unitTests();
  const problems = listProblems();
  if (problems.length) {
    // Checked before anything starts: a run that finds nothing (or not everything) to test must not pass.
    for (const p of problems) {
      console.log(`FAIL ${p}`);
    }
    console.log(`browser: 0 passed, ${problems.length} failed`);
    process.exit(1);
  }
  let passed = 0;
  let failed = 0;
  let gaps = 0;
  let context;
  const userDataDir = mkdtempSync(join(tmpdir(), 'natsmicro-chromium-'));
  const cleanup = async () => {
    await context?.close().catch(() => {});
    await stopAll();
    rmSync(userDataDir, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => cleanup().finally(() => process.exit(130)));
  }
  try {
    await prerequisites();
    const w = await world();
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: BASE_FLAGS,
      viewport: { width: 1280, height: 900 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const t = {
      ...w,
      page,
      log,
      requests: [],
      failedRequests: [],
      pageErrors: [],
      consoleErrors: [],
      expectHttpErrors: false,
    };
    watch(page, t);
    const set = grafanaSet();
    console.log(`browser: ${TESTS.length} tests, Grafana packages ${set.grafana}, React ${set.react}`);
    for (const test of TESTS) {
      const t0 = performance.now();
      let timer;
      try {
        await Promise.race([
          test(t),
          new Promise((_, fail) => {
            timer = setTimeout(() => fail(new Error(`timed out after ${TEST_TIMEOUT_MS} ms`)), TEST_TIMEOUT_MS);
          }),
        ]);
        passed++;
        console.log(`ok   ${test.name} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      } catch (e) {
        failed++;
        const gap = e instanceof KnownGap;
        gaps += gap ? 1 : 0;
        console.log(`${gap ? 'GAP ' : 'FAIL'} ${test.name}: ${e.message}`);
      } finally {
        clearTimeout(timer);
        t.expectHttpErrors = false;
      }
    }
  } catch (e) {
    failed++;
    console.log(`FAIL setup: ${e.message}`);
  } finally {
    await cleanup();
  }
  if (failed) {
    console.log(`logs: ${LOG_DIR}`);
  }
  if (gaps) {
    console.log(`known gaps: ${gaps} (counted as failed, not passed)`);
  }
  console.log(`browser: ${passed} passed, ${failed} failed`);
  process.exit(failed || unit.failed ? 1 : 0);
}

main();
