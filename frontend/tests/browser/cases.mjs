//! The browser tests: each a named async function run against the preview host, real backend, nats-server and micro services.
import { setTimeout as sleep } from 'node:timers/promises';

import { saveScreenshot } from './screenshots.mjs';
import { stopProcess } from './fixtures.mjs';

/** Thrown when the product cannot do something yet: reported as a known gap, never as a pass. */
export class KnownGap extends Error {}

const norm = (s) =>
  String(s ?? '')
    .replace(/\s+/g, ' ')
    .trim();

/** Poll `f` until it returns a truthy value; the last value (or error) is reported on timeout. */
async function until(what, f, timeoutMs = 15000, everyMs = 200) {
  const t0 = Date.now();
  let last;
  for (;;) {
    try {
      last = await f();
      if (last) {
        return last;
      }
    } catch (e) {
      last = e;
    }
    if (Date.now() - t0 > timeoutMs) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await sleep(everyMs);
  }
}

async function hook(page, testId, timeoutMs = 15000) {
  const loc = page.getByTestId(testId);
  try {
    await loc.first().waitFor({ state: 'visible', timeout: timeoutMs });
  } catch {
    throw new Error(`hook data-testid="${testId}" not found on ${new URL(page.url()).pathname}`);
  }
  return loc.first();
}

async function openView(t, view, query = '') {
  await t.page.goto(`${t.base}/${view}${query}`);
  await hook(t.page, 'preview-banner');
}

/** Type a URL into the ConfigEditor, press the host's "Save & test", return the alert {status, text}. */
async function saveAndTest(t, natsUrl) {
  const { page } = t;
  const input = await hook(page, 'natsmicro-config-url');
  await input.fill(natsUrl);
  await page.getByTestId('preview-save-test').click();
  const alert = page.locator('[data-testid="preview-health-success"], [data-testid="preview-health-error"]');
  await alert.first().waitFor({ timeout: 20000 });
  const testId = await alert.first().getAttribute('data-testid');
  return { status: testId.replace('preview-health-', ''), text: norm(await alert.first().innerText()) };
}

async function api(t, path, init) {
  const res = await fetch(t.base + path, init);
  return { status: res.status, body: await res.json() };
}

/** Names shown by an opened @grafana/ui Select: `role="option"` elements, the first line of each is the name. */
async function optionNames(page) {
  return page.$$eval('[role="option"]', (els) =>
    els.map((e) => (e.querySelector('span')?.textContent ?? e.textContent ?? '').trim()).filter(Boolean)
  );
}

async function openPicker(t, testId, expected) {
  const { page } = t;
  await (await hook(page, testId)).click();
  return until(`options of ${testId} to include ${expected.join(', ')}`, async () => {
    const names = await optionNames(page);
    return expected.every((n) => names.includes(n)) ? names : null;
  });
}

// (a) ------------------------------------------------------------------------------------------

export async function configSaveAndTestShowsHealth(t) {
  await openView(t, 'config');
  const r = await saveAndTest(t, t.natsUrl);
  if (r.status !== 'success') {
    throw new Error(`expected a success alert, got ${r.status}: ${r.text}`);
  }
  const total = t.services.reduce((n, s) => n + s.ids.length, 0);
  const byName = {};
  for (const s of t.services) {
    byName[s.name] = (byName[s.name] ?? 0) + s.ids.length;
  }
  const want = [
    `${Object.keys(byName).length} services with ${total} instances`,
    ...Object.entries(byName).map(([n, c]) => `${n} (${c})`),
  ];
  const missing = want.filter((w) => !r.text.includes(w));
  if (missing.length) {
    throw new Error(`health message lacks ${missing.join(' / ')}: ${r.text}`);
  }
  const saved = await api(t, '/api/datasources/uid/natsmicro');
  if (saved.body.url !== t.natsUrl) {
    throw new Error(`saved url is ${saved.body.url}, expected ${t.natsUrl}`);
  }
  await saveScreenshot(t, 'config-health.png', { fullPage: true });
}

export async function configWrongUrlShowsBackendError(t) {
  await openView(t, 'config');
  t.expectHttpErrors = true;
  try {
    const r = await saveAndTest(t, t.closedUrl);
    if (r.status !== 'error') {
      throw new Error(`expected an error alert for ${t.closedUrl}, got ${r.status}: ${r.text}`);
    }
    // The same settings asked directly: the alert must carry the backend's own message.
    const direct = await api(t, '/api/datasources/uid/natsmicro/health');
    if (direct.status !== 400 || direct.body.status !== 'ERROR') {
      throw new Error(`GET health answered ${direct.status} ${JSON.stringify(direct.body)}`);
    }
    const digitless = (s) => norm(s).replace(/\d+(\.\d+)?/g, '#');
    if (!digitless(r.text).includes(digitless(direct.body.message))) {
      throw new Error(`alert "${r.text}" is not the backend's message "${direct.body.message}"`);
    }
    if (!r.text.includes(String(new URL(t.closedUrl).port))) {
      throw new Error(`error does not name the configured server: ${r.text}`);
    }
  } finally {
    const back = await saveAndTest(t, t.natsUrl);
    t.expectHttpErrors = false;
    if (back.status !== 'success') {
      throw new Error(`restoring the working URL failed: ${back.text}`);
    }
  }
}

// (b) ------------------------------------------------------------------------------------------

export async function queryEditorPicksServiceThenInstance(t) {
  const { page } = t;
  await openView(t, 'explore');
  await hook(page, 'natsmicro-query-type');
  const services = await openPicker(t, 'natsmicro-query-service', ['orders', 'billing', 'inventory']);
  const real = services.filter((n) => !n.startsWith('$'));
  const unexpected = real.filter((n) => !['orders', 'billing', 'inventory'].includes(n));
  if (unexpected.length) {
    throw new Error(`service picker lists unknown services: ${unexpected.join(', ')}`);
  }
  await page
    .locator('[role="option"]', { hasText: /^orders/ })
    .first()
    .click();
  const orderIds = t.services.filter((s) => s.name === 'orders').flatMap((s) => s.ids);
  const instances = await openPicker(t, 'natsmicro-query-instance', orderIds);
  const listed = instances.filter((n) => !n.startsWith('$'));
  if (listed.length !== orderIds.length) {
    throw new Error(`instance picker lists ${listed.join(', ')}; expected exactly ${orderIds.join(', ')}`);
  }
  await saveScreenshot(t, 'query-editor.png', { fullPage: true });
  await page.keyboard.press('Escape');
  const stored = JSON.parse(await page.getByTestId('preview-query-json').textContent());
  if (stored.service !== 'orders') {
    throw new Error(`the stored query has service ${JSON.stringify(stored.service)}, expected "orders"`);
  }
}

export async function runQueryShowsFrames(t) {
  const { page } = t;
  await openView(t, 'explore');
  await hook(page, 'natsmicro-query-type');
  await page.getByTestId('preview-run-query').click();
  const frame = await hook(page, 'preview-frame', 20000);
  const text = norm(await frame.innerText());
  const ids = t.services.flatMap((s) => s.ids);
  const shown = ids.filter((id) => text.includes(id));
  if (shown.length !== ids.length) {
    throw new Error(`result table shows ${shown.length} of ${ids.length} instance ids: ${text.slice(0, 300)}`);
  }
}

/** Each query type run in Explore, with a picture of its frames for docs/queries/. */
export async function everyQueryTypeAnswersInExplore(t) {
  const { page } = t;
  for (const [label, file, expect] of [
    ['Ping', 'query-ping.png', 'rtt'],
    ['Services', 'query-services.png', 'instances'],
    ['Info', 'query-info.png', 'subject'],
    ['Stats', 'query-stats.png', 'requests'],
    ['SLO', 'query-slo.png', 'uptime'],
    ['Events', 'query-events.png', 'kind'],
  ]) {
    await openView(t, 'explore');
    const types = await hook(page, 'natsmicro-query-type');
    await types.getByRole('radio', { name: label, exact: true }).click();
    await page.getByTestId('preview-run-query').click();
    const type = label.toLowerCase();
    // The frame of the query just chosen: the view may still show the one before while this one runs.
    await until(
      `a ${type} frame with ${expect}`,
      async () => {
        const text = norm(await (await hook(page, 'preview-frame', 20000)).innerText());
        if (!text.includes(expect)) {
          throw new Error(`${label}: the frame shows no ${expect}: ${text.slice(0, 300)}`);
        }
        return true;
      },
      20000
    );
    await saveScreenshot(t, file, { fullPage: true });
  }
}

/** Aggregate in the editor: one row per service and endpoint, no instance id left (picture for docs/queries/stats.md). */
export async function aggregateCombinesInstancesInExplore(t) {
  const { page } = t;
  await openView(t, 'explore');
  await (await hook(page, 'natsmicro-query-type')).getByRole('radio', { name: 'Stats', exact: true }).click();
  await (await hook(page, 'natsmicro-query-aggregate')).getByRole('radio', { name: 'Sum', exact: true }).click();
  const stored = JSON.parse(await page.getByTestId('preview-query-json').textContent());
  if (stored.queryType !== 'stats' || stored.aggregate !== 'sum') {
    throw new Error(`the stored query is ${JSON.stringify(stored)}, expected stats with aggregate sum`);
  }
  await page.getByTestId('preview-run-query').click();
  const ids = t.services.flatMap((s) => s.ids);
  const names = [...new Set(t.services.map((s) => s.name))];
  const text = await until(
    'an aggregated stats frame: every service, no instance id',
    async () => {
      const text = norm(await (await hook(page, 'preview-frame', 20000)).innerText());
      const ok =
        text.includes('endpoint') && names.every((n) => text.includes(n)) && !ids.some((id) => text.includes(id));
      return ok ? text : null;
    },
    20000
  );
  if (text.includes(' id ')) {
    throw new Error(`the aggregated frame still has an id column: ${text.slice(0, 300)}`);
  }
  await saveScreenshot(t, 'query-aggregate.png', { fullPage: true });
}

// (c) ------------------------------------------------------------------------------------------

async function lineKeys(page) {
  return page.$$eval('[data-testid="natsmicro-ping-line"]', (els) => els.map((e) => e.getAttribute('data-series')));
}

async function refreshes(page) {
  return Number(await page.getByTestId('preview-refresh-count').getAttribute('data-refreshes'));
}

export async function panelDrawsOneLinePerInstance(t) {
  const { page } = t;
  await openView(t, 'dashboard', '?refresh=1');
  await hook(page, 'natsmicro-ping-panel');
  const want = t.services.flatMap((s) => s.ids.map((id) => `${s.name}/${id}`)).sort();
  await until('two panel refreshes', async () => (await refreshes(page)) >= 2, 20000);
  const keys = await until(
    `one natsmicro-ping-line per instance (${want.length})`,
    async () => {
      const k = (await lineKeys(page)).sort();
      return JSON.stringify(k) === JSON.stringify(want) ? k : null;
    },
    20000
  );
  if (new Set(keys).size !== keys.length) {
    throw new Error(`duplicate lines: ${keys.join(', ')}`);
  }
}

/** Points of each drawn line (`M`/`L` commands of its path), by series key. */
async function linePoints(page) {
  return page.$$eval('[data-testid="natsmicro-ping-line"]', (els) =>
    Object.fromEntries(
      els.map((e) => [e.getAttribute('data-series'), (e.getAttribute('d') ?? '').match(/[ML]/g)?.length ?? 0])
    )
  );
}

/** Points of each line drawn in one panel of the page (`preview-panel`, `preview-panel-2`). */
async function panelPoints(page, panel) {
  return page.$$eval(`[data-testid="${panel}"] [data-testid="natsmicro-ping-line"]`, (els) =>
    Object.fromEntries(
      els.map((e) => [e.getAttribute('data-series'), (e.getAttribute('d') ?? '').match(/[ML]/g)?.length ?? 0])
    )
  );
}

/**
 * Two panels of one page on the same channel (Grafana keeps one buffer per channel in a page): the
 * first QueryData frame seeds it, the second panel's is skipped, both draw the same points and grow
 * together, and the backend sees one subscriber for the page.
 */
async function twoPanelsShareOneChannel(t, page, want, others) {
  await page.goto(`${t.base}/dashboard?live=1&range=1&panels=2`);
  const same = async () => {
    const [a, b] = [await panelPoints(page, 'preview-panel'), await panelPoints(page, 'preview-panel-2')];
    return want.every((k) => (a[k] ?? 0) >= 3 && a[k] === b[k]) ? a : null;
  };
  const first = await until('both panels drawing the same history for every instance', same, 20000);
  const entries = await until('two subscriptions in the page', async () => {
    const e = (await liveEntries(page)).filter((x) => x.state !== 'Done');
    return e.length === 2 ? e : null;
  });
  const seeds = entries.map((e) => e.seedRows).sort((x, y) => x - y);
  if (entries[0].channel !== entries[1].channel || seeds[0] !== 0 || seeds[1] < 3) {
    throw new Error(`two panels: want one channel seeded once, got ${JSON.stringify(entries)}`);
  }
  const grown = await until(
    'both panels to gain 2 points together',
    async () => {
      const p = await same();
      return p && want.every((k) => p[k] >= first[k] + 2) ? p : null;
    },
    20000
  );
  const [c] = await until(`${others + 1} subscribers on the channel (one per page)`, async () => {
    const c = await liveChannels(t);
    return c.length === 1 && c[0].subscribers === others + 1 ? c : null;
  });
  if (c.runStreams !== 1 || (await liveEntries(page)).some((e) => e.repeats !== 0)) {
    throw new Error(`two panels: ${JSON.stringify(c)}, ${JSON.stringify(await liveEntries(page))}`);
  }
  t.log(`live two panels: points ${want.map((k) => `${first[k]}→${grown[k]}`).join(', ')} in both, seeded once`);
}

/** The ping legend's Version cell of each row, by series key (`service/id`), sorted by key. */
async function legendVersions(page) {
  const rows = await page
    .getByTestId('natsmicro-ping-legend-row')
    .evaluateAll((trs) =>
      trs.map((tr) => [
        tr.getAttribute('data-series'),
        tr.querySelector('[data-testid="natsmicro-ping-legend-version"]')?.textContent ?? '',
      ])
    );
  return Object.fromEntries(rows.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The host's record of its live subscriptions (preview/host/live.ts), one entry per getDataStream. */
async function liveEntries(page) {
  return page.evaluate(() => Object.values(window.__previewLive ?? {}));
}

async function liveChannels(t) {
  const r = await api(t, '/api/live/stats');
  return r.body.channels.filter((c) => c.channel.startsWith('ds/natsmicro/v1/ping/timeseries/'));
}

/** Live blocked (a proxy that drops it): the panel still shows the history the query answered. */
async function liveBlockedStillShowsHistory(t, page) {
  await page.goto(`${t.base}/dashboard?live=1&range=1&noLive=1`);
  const want = t.services.flatMap((s) => s.ids.map((id) => `${s.name}/${id}`)).sort();
  const points = await until(
    'a line with history per instance, Live blocked',
    async () => {
      const p = await linePoints(page);
      return want.every((k) => (p[k] ?? 0) >= 2) ? p : null;
    },
    30000
  );
  const [entry] = await until('the blocked subscription', async () => {
    const e = await liveEntries(page);
    return e.length && e[0].state === 'Connecting' ? e : null;
  });
  if (entry.packets !== 0 || entry.seedRows < 2 || entry.repeats !== 0) {
    throw new Error(`with Live blocked: ${JSON.stringify(entry)}`);
  }
  const alerts = await page.locator('[role="alert"]').count();
  t.log(`live blocked: points per line ${JSON.stringify(points)}, ${entry.seedRows} history rows, ${alerts} alerts`);
  if (alerts !== 0) {
    throw new Error(`with Live blocked the dashboard shows ${alerts} error alerts`);
  }
}

export async function liveStreamHistoryThenLivePoints(t) {
  const { page } = t;
  // One packet a second: the stream period is the data source's sampleIntervalSec (saved like the ConfigEditor would).
  const before = (await api(t, '/api/datasources/uid/natsmicro')).body;
  const put = (jsonData, version) =>
    api(t, '/api/datasources/uid/natsmicro', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ...before, jsonData, version }),
    });
  const saved = await put({ ...before.jsonData, sampleIntervalSec: 1 }, before.version);
  if (saved.status !== 200) {
    throw new Error(`saving sampleIntervalSec 1 answered ${saved.status} ${JSON.stringify(saved.body)}`);
  }
  // Saving replaced the backend's connection, so its history starts again: let the sampler take a
  // few samples (one a second) that the dashboard's query must answer before live points.
  await api(t, '/api/ds/query', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ queries: [{ refId: 'W', datasource: { uid: 'natsmicro' }, queryType: 'ping' }] }),
  });
  await new Promise((r) => setTimeout(r, 4500));
  const second = await page.context().newPage();
  const secondErrors = [];
  second.on('pageerror', (e) => secondErrors.push(e.message));
  try {
    await openView(t, 'dashboard', '?live=1&range=1');
    await hook(page, 'natsmicro-ping-panel');
    const want = t.services.flatMap((s) => s.ids.map((id) => `${s.name}/${id}`)).sort();
    await until(
      `one natsmicro-ping-line per instance (${want.length}) in the live view`,
      async () => {
        const p = await linePoints(page);
        return JSON.stringify(Object.keys(p).sort()) === JSON.stringify(want) ? p : null;
      },
      20000
    );
    const [entry] = await until('a live subscription in the page', async () => {
      const e = await liveEntries(page);
      return e.length ? e : null;
    });
    t.log(
      `live: ${entry.channel}: ${entry.seedRows} history rows from QueryData, ${entry.initialRows} from the subscription, ${entry.packets} packets so far`
    );
    if (entry.seedRows < 3) {
      throw new Error(`the QueryData frame held ${entry.seedRows} rows after ~4 s of 1 s sampling; want ≥ 3`);
    }
    if (entry.initialRows !== 0) {
      throw new Error(`SubscribeStream sent ${entry.initialRows} rows: history would be drawn twice`);
    }
    // The lines' growth is counted from after the packet count was read: a packet that arrived
    // between the first line count and that read would otherwise count as a point without a packet.
    const base = await linePoints(page);
    const grown = await until(
      'every line to gain 2 points (2 packets)',
      async () => {
        const p = await linePoints(page);
        return want.every((k) => (p[k] ?? 0) >= (base[k] ?? 0) + 2) ? p : null;
      },
      20000
    );
    const [after] = await liveEntries(page);
    if (after.packets < entry.packets + 2) {
      throw new Error(`the page got ${after.packets - entry.packets} packets while the lines grew`);
    }
    const mode = await page.getByTestId('preview-refresh-count').getAttribute('data-mode');
    if (mode !== 'live') {
      throw new Error(`dashboard is in mode ${mode}, not live`);
    }
    t.log(
      `live: points per line ${want.map((k) => `${base[k]}→${grown[k]}`).join(', ')}; frame rows ${after.rows}, packets ${after.packets}`
    );
    // The legend's Version column is filled from the live frame, as the instant table fills it.
    const wantVersions = Object.fromEntries(
      t.services.flatMap((s) => s.ids.map((id) => [`${s.name}/${id}`, s.version]))
    );
    const versions = await legendVersions(page);
    if (JSON.stringify(versions) !== JSON.stringify(Object.fromEntries(want.map((k) => [k, wantVersions[k]])))) {
      throw new Error(`live legend versions ${JSON.stringify(versions)}, want ${JSON.stringify(wantVersions)}`);
    }
    t.log(`live: legend versions ${JSON.stringify(versions)}`);

    // A second viewer of the same channel: a second SubscribeStream, no second RunStream.
    await second.goto(`${t.base}/dashboard?live=1&range=1`);
    await until(
      'lines in the second page',
      async () => Object.keys(await linePoints(second)).length === want.length,
      20000
    );
    const [shared] = await until('two subscribers on the channel', async () => {
      const c = await liveChannels(t);
      return c.length === 1 && c[0].subscribers === 2 ? c : null;
    });
    if (shared.runStreams !== 1 || !shared.running || shared.subscribes !== 2) {
      throw new Error(`expected one running RunStream for two subscribes, got ${JSON.stringify(shared)}`);
    }
    t.log(`live: ${JSON.stringify(shared)}`);
    // Some seconds of lines for the picture.
    await until('10 rows in the live frame', async () => (await liveEntries(page))[0].rows >= 10, 30000);
    for (const [name, p] of [
      ['first', page],
      ['second', second],
    ]) {
      const entries = await liveEntries(p);
      if (entries.some((e) => e.repeats !== 0)) {
        throw new Error(`${name} page drew points twice: ${JSON.stringify(entries)}`);
      }
    }
    await saveScreenshot(t, 'ping-live.png');

    // A dashboard refresh and a time-range change re-run the query and subscribe again to the same
    // channel: its buffer is kept, the new QueryData frame is skipped, nothing is drawn twice.
    for (const [what, act] of [
      ['refresh', () => page.getByTestId('preview-live-rerun').click()],
      ['time range 5m', () => page.getByTestId('preview-live-range').getByRole('radio', { name: 'last 5m' }).click()],
    ]) {
      const before = await linePoints(page);
      const known = (await liveEntries(page)).length;
      await act();
      const fresh = await until(`a new subscription after the ${what}`, async () => {
        const e = (await liveEntries(page)).filter((x) => x.state !== 'Done');
        return (await liveEntries(page)).length > known && e.length === 1 ? e[0] : null;
      });
      const after = await until(`lines after the ${what} keep their points and grow`, async () => {
        const p = await linePoints(page);
        return want.every((k) => (p[k] ?? 0) > (before[k] ?? 0)) ? p : null;
      });
      if (fresh.seedRows !== 0 || fresh.repeats !== 0) {
        throw new Error(`after the ${what}: ${JSON.stringify(fresh)} (the channel's buffer should be reused)`);
      }
      t.log(`live ${what}: points ${want.map((k) => `${before[k]}→${after[k]}`).join(', ')}, buffer kept`);
    }

    // Two panels of one dashboard on the channel, in the second page (the first stays subscribed).
    await twoPanelsShareOneChannel(t, second, want, 1);

    // The same dashboard where the Live endpoint does not get through.
    await liveBlockedStillShowsHistory(t, second);

    // Both leave: the RunStream is cancelled.
    await second.close();
    await openView(t, 'config');
    const [left] = await until('the RunStream to be cancelled', async () => {
      const c = await liveChannels(t);
      return c.length === 1 && c[0].subscribers === 0 && !c[0].running ? c : null;
    });
    if (left.runStreams !== 1) {
      throw new Error(`RunStream was started ${left.runStreams} times`);
    }
    if (secondErrors.length) {
      throw new Error(`second page errors: ${secondErrors.join('; ')}`);
    }
  } finally {
    if (!second.isClosed()) {
      await second.close();
    }
    const now = (await api(t, '/api/datasources/uid/natsmicro')).body;
    await put(before.jsonData, now.version);
  }
}

export async function panelMarksKilledInstanceDown(t) {
  const { page } = t;
  // A 1-minute range and some history first, so the screenshot shows lines rather than a few dots.
  await openView(t, 'dashboard', '?refresh=1&range=1');
  await hook(page, 'natsmicro-ping-panel');
  await until('eight panel refreshes', async () => (await refreshes(page)) >= 8, 30000);
  if (!(await lineKeys(page)).length) {
    throw new Error('no natsmicro-ping-line drawn');
  }
  const victim = t.services.find((s) => s.killable);
  const key = `${victim.name}/${victim.ids[0]}`;
  await stopProcess(victim.child);
  t.log(`killed ${victim.name} process pid ${victim.child.pid} (instance ${victim.ids[0]})`);
  try {
    await until(
      `a natsmicro-ping-down marker for ${key}`,
      async () => {
        const down = await page.$$eval('[data-testid="natsmicro-ping-down"]', (els) =>
          els.map((e) => e.getAttribute('data-series'))
        );
        return down.includes(key);
      },
      30000
    );
    const n = await refreshes(page);
    await until('three more refreshes', async () => (await refreshes(page)) >= n + 3, 15000);
  } catch (e) {
    await saveScreenshot(t, 'ping-panel.png');
    // Which side cannot show it yet: does the backend report the instance as down?
    const q = await api(t, '/api/ds/query', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ queries: [{ refId: 'A', queryType: 'ping', datasource: { uid: 'natsmicro' } }] }),
    });
    const f = q.body.results?.A?.frames?.[0];
    const ids = f?.data.values[f.schema.fields.findIndex((x) => x.name === 'id')] ?? [];
    const rtt = f?.data.values[f.schema.fields.findIndex((x) => x.name === 'rtt')] ?? [];
    const i = ids.indexOf(victim.ids[0]);
    const backendSaysDown = i >= 0 && rtt[i] === null;
    throw new KnownGap(
      backendSaysDown
        ? `backend reports ${key} down (rtt null) but the panel shows no natsmicro-ping-down marker: ${e.message}`
        : `backend does not report ${key} as down (${i < 0 ? 'instance dropped' : `rtt ${rtt[i]}`}); ${e.message}`
    );
  }
  await saveScreenshot(t, 'ping-panel.png');
}

/**
 * Issue 11 in the preview: a probe saved in the settings is listed by the config view and tested
 * once by its Test button; the Probe query type answers it in Explore; the ping panel draws a
 * state strip per instance and an uptime per legend row. Pictures for docs/queries/probe.md.
 */
export async function probesAndStatesShowInThePreview(t) {
  const { page } = t;
  const current = await api(t, '/api/datasources/uid/natsmicro');
  const jsonData = {
    ...current.body.jsonData,
    requestSubjects: ['orders.*'],
    probes: [{ name: 'orders-get', subject: 'orders.get', payload: '{"id":1}', warnMs: 2000, critMs: 5000 }],
  };
  const saved = await api(t, '/api/datasources/uid/natsmicro', {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...current.body, jsonData }),
  });
  if (saved.status !== 200) {
    throw new Error(`saving a probe answered ${saved.status}: ${JSON.stringify(saved.body)}`);
  }
  await openView(t, 'config');
  const section = await hook(page, 'natsmicro-config-probes');
  await section.getByRole('button', { name: 'Test' }).click();
  const result = norm(await (await hook(page, 'natsmicro-config-probe-result', 20000)).innerText());
  if (!result.includes('Success: up')) {
    throw new Error(`the probe test shows ${result}`);
  }
  await section.scrollIntoViewIfNeeded();
  await saveScreenshot(t, 'config-probes.png', { fullPage: true });

  await openView(t, 'explore');
  await (await hook(page, 'natsmicro-query-type')).getByRole('radio', { name: 'Probe', exact: true }).click();
  await page.getByTestId('preview-run-query').click();
  await until(
    'a probe frame with orders-get',
    async () => {
      const text = norm(await (await hook(page, 'preview-frame', 20000)).innerText());
      return text.includes('orders-get') && text.includes('latency') ? text : null;
    },
    20000
  );
  await saveScreenshot(t, 'query-probe.png', { fullPage: true });

  await openView(t, 'dashboard', '?refresh=1');
  const strip = await hook(page, 'natsmicro-ping-strip', 20000);
  const want = t.services.flatMap((s) => s.ids.map((id) => `${s.name}/${id}`)).sort();
  const rows = await until(
    `a state strip row per instance (${want.length})`,
    async () => {
      const keys = (await strip.locator('[data-series]').evaluateAll((els) => els.map((e) => e.dataset.series))).sort();
      return keys.length >= want.length ? keys : null;
    },
    20000
  );
  for (const key of want) {
    if (!rows.includes(key)) {
      throw new Error(`no strip row for ${key}: ${rows.join(', ')}`);
    }
  }
  const states = await until(
    'coloured segments in the strip',
    async () => {
      const s = await strip
        .locator('[data-testid="natsmicro-ping-strip-segment"]')
        .evaluateAll((els) => els.map((e) => e.dataset.state));
      return s.length >= want.length ? s : null;
    },
    20000
  );
  if (!states.every((s) => ['up', 'slow', 'down'].includes(s))) {
    throw new Error(`strip segments: ${states.join(', ')}`);
  }
  const uptimes = await page.getByTestId('natsmicro-ping-legend-uptime').allInnerTexts();
  if (!uptimes.length || !uptimes.every((u) => /%$/.test(u.trim()))) {
    throw new Error(`legend uptimes: ${uptimes.join(', ')}`);
  }
}

// (d) ------------------------------------------------------------------------------------------

export async function builtModulesLoadedWithoutErrors(t) {
  for (const id of ['natsmicro-datasource', 'natsmicro-ping-panel']) {
    const path = `/public/plugins/${id}/module.js`;
    const hits = t.requests.filter((r) => new URL(r.url).pathname === path);
    if (!hits.length) {
      throw new Error(`${path} was never requested`);
    }
    const bad = hits.filter((r) => r.status !== 200);
    if (bad.length) {
      throw new Error(`${path} answered ${bad.map((r) => r.status).join(', ')}`);
    }
  }
  // The running page got its plugins from SystemJS' registry under exactly those URLs.
  const registered = await t.page.evaluate(() =>
    ['natsmicro-datasource', 'natsmicro-ping-panel'].map((id) => {
      const ns = window.System?.get(new URL(`/public/plugins/${id}/module.js`, window.location.href).href);
      return Boolean(ns && ns.plugin);
    })
  );
  if (!registered.every(Boolean)) {
    throw new Error(`SystemJS registry lacks a module.js with 'plugin': ${JSON.stringify(registered)}`);
  }
  const strays = t.requests.filter(
    (r) => /module\.js/.test(r.url) && !/^\/public\/plugins\/[\w-]+\/module\.js$/.test(new URL(r.url).pathname)
  );
  if (strays.length) {
    throw new Error(`module.js loaded from elsewhere: ${strays.map((r) => r.url).join(', ')}`);
  }
  const problems = [
    ...t.pageErrors.map((e) => `page error: ${e}`),
    ...t.consoleErrors.map((e) => `console error: ${e}`),
    ...t.requests.filter((r) => r.status >= 400 && !r.expected).map((r) => `HTTP ${r.status} ${r.method} ${r.url}`),
    ...t.failedRequests.map((r) => `request failed: ${r}`),
  ];
  if (problems.length) {
    throw new Error(problems.slice(0, 8).join('\n    '));
  }
}

/**
 * Issue 9 in the preview: the config view's History section switches the data source to the
 * JetStream store, and Save & test names the stream and who samples. Picture for the README.
 */
export async function historyStoreInTheConfigView(t) {
  const { page } = t;
  await openView(t, 'config');
  const store = await hook(page, 'natsmicro-config-historyStore');
  await store.getByRole('radio', { name: 'JetStream', exact: true }).click();
  await hook(page, 'natsmicro-config-historyStream');
  const r = await saveAndTest(t, t.natsUrl);
  if (r.status !== 'success' || !r.text.includes('History: JetStream stream NATSMICRO_HISTORY')) {
    throw new Error(`Save & test with the JetStream store: ${r.status}: ${r.text}`);
  }
  const saved = await api(t, '/api/datasources/uid/natsmicro');
  if (saved.body.jsonData.historyStore !== 'jetstream') {
    throw new Error(`saved historyStore is ${saved.body.jsonData.historyStore}`);
  }
  await store.scrollIntoViewIfNeeded();
  await saveScreenshot(t, 'config-history.png', { fullPage: true });
  // Back to the memory store for the cases after this one.
  await store.getByRole('radio', { name: 'Memory', exact: true }).click();
  const back = await saveAndTest(t, t.natsUrl);
  if (back.status !== 'success' || !back.text.includes("History: in this plugin process's memory")) {
    throw new Error(`Save & test with the memory store: ${back.status}: ${back.text}`);
  }
}

/** In run order: (d) last, so it sees every page the others opened; the kill test after the line test. */
export const TESTS = [
  configSaveAndTestShowsHealth,
  configWrongUrlShowsBackendError,
  queryEditorPicksServiceThenInstance,
  runQueryShowsFrames,
  panelDrawsOneLinePerInstance,
  everyQueryTypeAnswersInExplore,
  aggregateCombinesInstancesInExplore,
  probesAndStatesShowInThePreview,
  historyStoreInTheConfigView,
  liveStreamHistoryThenLivePoints,
  panelMarksKilledInstanceDown,
  builtModulesLoadedWithoutErrors,
];
