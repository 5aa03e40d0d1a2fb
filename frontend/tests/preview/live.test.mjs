//! node:test for the preview's Live bridge with a fake plugin: SSE framing, every subscriber gets SubscribeStream's data, one RunStream per channel fanned out, cancelled when the last subscriber leaves.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { DataSourceStore } from '../../preview/datasource.mjs';
import { LiveBridge, parseChannel, rowsOf, sseEvent } from '../../preview/live.mjs';

const CHANNEL = 'ds/natsmicro/v1/ping/timeseries/rtt/=/=/=';

/** A plugin whose RunStream calls are EventEmitters the test pushes packets into. */
function fakePlugin({ status = 0, initial = { schema: { fields: [] }, data: { values: [[1, 2]] } } } = {}) {
  const calls = [];
  return {
    running: true,
    calls,
    subscribes: [],
    async subscribeStream(req) {
      this.subscribes.push(req.path);
      return { status, data: Buffer.from(initial ? JSON.stringify(initial) : '') };
    },
    runStream(req) {
      const call = new EventEmitter();
      call.path = req.path;
      call.cancelled = false;
      call.cancel = () => {
        call.cancelled = true;
        call.emit('error', Object.assign(new Error('Cancelled on client'), { code: 1 }));
      };
      calls.push(call);
      return call;
    },
  };
}

async function withBridge(plugin, f) {
  const lines = [];
  const bridge = new LiveBridge({ plugin, store: new DataSourceStore(), log: (l) => lines.push(l), restartMs: 20 });
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    bridge.subscribe(req, res, url.searchParams.get('channel')).catch((e) => {
      res.writeHead(500);
      res.end(e.message);
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    await f({ bridge, base, lines });
  } finally {
    bridge.close();
    server.closeAllConnections();
    server.close();
  }
}

/** An SSE client: `events` fills as they arrive; `close()` disconnects. */
async function connect(base, channel) {
  const abort = new AbortController();
  const res = await fetch(`${base}/?channel=${encodeURIComponent(channel)}`, { signal: abort.signal });
  const events = [];
  const done = (async () => {
    if (!res.ok) {
      return;
    }
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
          const data = [...block.matchAll(/^data: (.*)$/gm)].map((m) => m[1]).join('\n');
          if (data) {
            events.push({ event, data: JSON.parse(data) });
          }
        }
      }
    } catch {
      // aborted
    }
  })();
  return { res, events, close: () => abort.abort(), done };
}

async function until(f, what, ms = 2000) {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await sleep(5);
  }
}

test('channel parsing, SSE framing and row counts', () => {
  assert.deepEqual(parseChannel(CHANNEL), { scope: 'ds', uid: 'natsmicro', path: 'v1/ping/timeseries/rtt/=/=/=' });
  assert.equal(parseChannel('plugin/x/y'), null);
  assert.equal(parseChannel('ds/natsmicro/a b'), null);
  assert.equal(parseChannel('ds/u/' + 'a'.repeat(160)), null);
  assert.equal(sseEvent('x', 'a\nb'), 'event: x\ndata: a\ndata: b\n\n');
  assert.equal(sseEvent('', '{}'), 'data: {}\n\n');
  assert.equal(
    rowsOf({
      data: {
        values: [
          [1, 2, 3],
          [4, 5, 6],
        ],
      },
    }),
    3
  );
  assert.equal(rowsOf(null), 0);
});

test('two subscribers: both get the initial data, one RunStream fans out, cancelled when the last leaves', async () => {
  const plugin = fakePlugin();
  await withBridge(plugin, async ({ bridge, base, lines }) => {
    const a = await connect(base, CHANNEL);
    await until(() => a.events.length === 1, 'first subscriber initial data');
    const b = await connect(base, CHANNEL);
    await until(() => b.events.length === 1, 'second subscriber initial data');
    for (const s of [a, b]) {
      assert.equal(s.res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      assert.equal(s.events[0].event, 'subscribed');
      assert.equal(s.events[0].data.status, 'OK');
      assert.deepEqual(s.events[0].data.data.data.values, [[1, 2]]);
    }
    assert.deepEqual(plugin.subscribes, ['v1/ping/timeseries/rtt/=/=/=', 'v1/ping/timeseries/rtt/=/=/=']);
    assert.equal(plugin.calls.length, 1, 'one RunStream for two subscribers');
    plugin.calls[0].emit('data', { data: Buffer.from('{"data":{"values":[[3]]}}') });
    plugin.calls[0].emit('data', { data: Buffer.from('{"data":{"values":[[4]]}}') });
    await until(() => a.events.length === 3 && b.events.length === 3, 'two packets at both');
    assert.deepEqual(
      b.events.slice(1).map((e) => e.data.data.values[0][0]),
      [3, 4]
    );
    assert.deepEqual(bridge.stats().channels, [
      {
        channel: CHANNEL,
        subscribers: 2,
        runStreams: 1,
        running: true,
        packets: 2,
        subscribes: 2,
        lastError: null,
      },
    ]);
    a.close();
    await until(() => bridge.stats().channels[0].subscribers === 1, 'first unsubscribe');
    assert.equal(plugin.calls[0].cancelled, false);
    b.close();
    await until(() => plugin.calls[0].cancelled, 'RunStream cancelled');
    assert.equal(bridge.stats().channels[0].running, false);
    assert.ok(
      lines.some((l) => /^live: subscribe .* \(subscribers 2, initial rows 2\)$/.test(l)),
      lines.join('\n')
    );
    assert.ok(
      lines.some((l) => /^live: unsubscribe .* \(subscribers 0\)$/.test(l)),
      lines.join('\n')
    );

    // A new viewer starts a new RunStream.
    const c = await connect(base, CHANNEL);
    await until(() => plugin.calls.length === 2, 'second RunStream');
    assert.equal(bridge.stats().channels[0].runStreams, 2);
    c.close();
    await until(() => plugin.calls[1].cancelled, 'second RunStream cancelled');
  });
});

test('a RunStream that ends while viewers remain is started again; refusals and bad channels', async () => {
  const plugin = fakePlugin({ initial: null });
  await withBridge(plugin, async ({ bridge, base }) => {
    const a = await connect(base, CHANNEL);
    await until(() => a.events.length === 1, 'initial event');
    assert.equal(a.events[0].data.data, null);
    plugin.calls[0].emit('error', Object.assign(new Error('boom'), { code: 13, details: 'boom' }));
    await until(() => plugin.calls.length === 2, 'restarted RunStream');
    assert.equal(bridge.stats().channels[0].runStreams, 2);
    a.close();
    await until(() => plugin.calls[1].cancelled, 'cancelled');
  });
  await withBridge(fakePlugin({ status: 1 }), async ({ base }) => {
    const r = await connect(base, CHANNEL);
    await r.done;
    assert.deepEqual(r.events, [
      { event: 'refused', data: { status: 'NOT_FOUND', message: 'subscription refused: NOT_FOUND' } },
    ]);
  });
  await withBridge(fakePlugin(), async ({ base }) => {
    assert.equal((await connect(base, 'ds/other/v1/x')).res.status, 404);
    assert.equal((await connect(base, 'nonsense')).res.status, 400);
  });
});
