//! node:test for the preview's data source store and Grafana API handlers (with a fake plugin): secrets stay server side, Grafana's status codes, per-refId errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { datasource, dsQuery, health, parseTime, resource } from '../../preview/api.mjs';
import { DataSourceStore } from '../../preview/datasource.mjs';
import { parseHandshake } from '../../preview/grpc.mjs';

test('secureJsonData is write-only: set, kept, deleted by an empty string; saves bump version and lastUpdated', () => {
  const store = new DataSourceStore({ url: 'nats://a:4222', secureJsonData: { token: 's3cret' } });
  const before = store.updatedMs;
  assert.deepEqual(store.toJSON().secureJsonFields, { token: true });
  assert.ok(!JSON.stringify(store.toJSON()).includes('s3cret'));

  const put = datasource({ store }, 'natsmicro', 'PUT', {
    url: 'nats://b:4222',
    jsonData: { authType: 'userpass', username: 'u' },
    secureJsonData: { password: 'pw' },
    version: 1,
  });
  assert.equal(put.status, 200);
  assert.equal(put.body.message, 'Datasource updated');
  assert.deepEqual(put.body.datasource.secureJsonFields, { token: true, password: true });
  assert.ok(!JSON.stringify(put.body).includes('pw"'));
  assert.equal(store.version, 2);
  assert.ok(store.updatedMs > before);
  assert.deepEqual(store.pluginContext().dataSourceInstanceSettings.decryptedSecureJsonData, {
    token: 's3cret',
    password: 'pw',
  });
  assert.deepEqual(JSON.parse(store.pluginContext().dataSourceInstanceSettings.jsonData), {
    authType: 'userpass',
    username: 'u',
  });

  datasource({ store }, 'natsmicro', 'PUT', { secureJsonData: { token: '' } });
  assert.deepEqual(store.toJSON().secureJsonFields, { password: true });
  assert.equal(datasource({ store }, 'natsmicro', 'PUT', { version: 1 }).status, 409);
  assert.equal(datasource({ store }, 'other', 'GET').status, 404);
});

test('parseTime understands epoch ms and now-relative times', () => {
  const now = 1_700_000_000_000;
  assert.equal(parseTime('1699999999000', now), 1699999999000);
  assert.equal(parseTime('now', now), now);
  assert.equal(parseTime('now-5m', now), now - 300000);
  assert.equal(parseTime('now-1h', now), now - 3600000);
  assert.throws(() => parseTime('yesterday', now), /cannot parse/);
});

test('/api/ds/query: the whole query goes to the plugin as JSON; an unknown data source fails only its refId with 400', async () => {
  const store = new DataSourceStore({ url: 'nats://x' });
  let seen;
  const plugin = {
    async queryData(req) {
      seen = req;
      return { responses: { A: { frames: [], error: '', status: 200 } } };
    },
  };
  const r = await dsQuery(
    { store, plugin },
    {
      queries: [
        { refId: 'A', queryType: 'ping', service: 'orders', datasource: { uid: 'natsmicro' }, intervalMs: 2000 },
        { refId: 'B', datasource: { uid: 'elsewhere', type: 'prometheus' } },
      ],
      from: '1000',
      to: '2000',
    }
  );
  assert.equal(r.status, 400);
  assert.equal(r.body.results.A.status, 200);
  assert.match(r.body.results.B.error, /not found/);
  assert.equal(seen.queries.length, 1);
  const q = seen.queries[0];
  assert.equal(q.refId, 'A');
  assert.equal(q.queryType, 'ping');
  assert.equal(q.intervalMS, 2000);
  assert.deepEqual(q.timeRange, { fromEpochMS: 1000, toEpochMS: 2000 });
  assert.equal(JSON.parse(q.json).service, 'orders');
  assert.equal(seen.pluginContext.dataSourceInstanceSettings.uid, 'natsmicro');
  assert.equal((await dsQuery({ store, plugin }, { queries: [] })).status, 400);
});

test('health: 200 with details when OK, 400 with the message otherwise (Grafana)', async () => {
  const store = new DataSourceStore({ url: 'nats://x' });
  const answer = (status, message, details) => ({
    async checkHealth() {
      return { status, message, jsonDetails: details ? Buffer.from(JSON.stringify(details)) : Buffer.alloc(0) };
    },
  });
  const ok = await health({ store, plugin: answer(1, 'fine', { services: 2 }) }, 'natsmicro');
  assert.deepEqual(ok, { status: 200, body: { status: 'OK', message: 'fine', details: { services: 2 } } });
  const bad = await health({ store, plugin: answer(2, 'NATS at x is unreachable') }, 'natsmicro');
  assert.deepEqual(bad, { status: 400, body: { status: 'ERROR', message: 'NATS at x is unreachable' } });
});

test('resources: status, headers and body of the plugin pass through', async () => {
  const store = new DataSourceStore({ url: 'nats://x' });
  let seen;
  const plugin = {
    async callResource(req) {
      seen = req;
      return {
        code: 404,
        headers: { 'Content-Type': { values: ['application/json'] } },
        body: Buffer.from('{"error":"x"}'),
      };
    },
  };
  const r = await resource(
    { store, plugin },
    {
      uid: 'natsmicro',
      path: 'services/orders/instances',
      method: 'GET',
      url: '/api/datasources/uid/natsmicro/resources/services/orders/instances?x=1',
      headers: { accept: 'application/json', cookie: 'secret' },
      body: Buffer.alloc(0),
    }
  );
  assert.equal(r.status, 404);
  assert.equal(r.headers['Content-Type'], 'application/json');
  assert.equal(r.raw.toString(), '{"error":"x"}');
  assert.equal(seen.path, 'services/orders/instances');
  assert.deepEqual(Object.keys(seen.headers), ['accept']);
});

test('go-plugin handshake line', () => {
  assert.equal(parseHandshake('1|2|tcp|127.0.0.1:40123|grpc\n'), '127.0.0.1:40123');
  assert.throws(() => parseHandshake('1|1|tcp|127.0.0.1:1|netrpc'), /bad handshake/);
});
