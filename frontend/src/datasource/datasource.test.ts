//! Tests of the data source: multi-value expansion through DataSourceWithBackend (backend HTTP stubbed), refIds
//! mapped back, filterQuery, resource helpers' errors, and the variable support.
import { DataQueryRequest, DataQueryResponse, DataSourceInstanceSettings, dateTime, FieldType } from '@grafana/data';
import { BackendSrv, BackendSrvRequest, setBackendSrv, setTemplateSrv } from '@grafana/runtime';
import { lastValueFrom, Observable, of, throwError } from 'rxjs';
import { beforeEach, describe, expect, it } from 'vitest';

import { stubTemplateSrv } from './data/templateSrvStub';
import { NatsMicroOptions, NatsMicroQuery, NatsMicroVariableQuery } from '../common/types';
import { DataSource } from './datasource';
import { NatsMicroVariableSupport } from './variables';

const vars = (ds: DataSource) => ds.variables as NatsMicroVariableSupport;

interface Call {
  url: string;
  data: { queries: NatsMicroQuery[] };
}
let calls: Call[] = [];
let answer: (req: BackendSrvRequest) => Observable<unknown>;

function fakeBackend(): BackendSrv {
  return {
    fetch: (req: BackendSrvRequest) => {
      calls.push({ url: req.url, data: req.data });
      return answer(req);
    },
  } as unknown as BackendSrv;
}

/** What /api/ds/query answers: one frame (JSON form) per query, carrying the wire refId. */
function echoFrames(req: BackendSrvRequest) {
  const results: Record<string, unknown> = {};
  for (const q of (req.data as { queries: NatsMicroQuery[] }).queries) {
    results[q.refId] = {
      frames: [
        {
          schema: { refId: q.refId, fields: [{ name: 'service', type: 'string' }] },
          data: { values: [[q.service ?? '']] },
        },
      ],
      ...(q.service === 'billing' ? { error: 'no instance of billing answered', status: 502 } : {}),
    };
  }
  return of({ data: { results }, status: 200, ok: true });
}

const settings = {
  id: 1,
  uid: 'nats',
  type: 'natsmicro-datasource',
  name: 'NATS',
  meta: { id: 'natsmicro-datasource' },
  jsonData: {},
  access: 'proxy',
  readOnly: false,
} as unknown as DataSourceInstanceSettings<NatsMicroOptions>;

function request<Q extends NatsMicroQuery | NatsMicroVariableQuery>(targets: Q[]): DataQueryRequest<Q> {
  const now = dateTime();
  return {
    requestId: 'r',
    interval: '1s',
    intervalMs: 1000,
    range: { from: now, to: now, raw: { from: 'now-1h', to: 'now' } },
    scopedVars: {},
    targets,
    timezone: 'utc',
    app: 'dashboard',
    startTime: 0,
  } as DataQueryRequest<Q>;
}

beforeEach(() => {
  calls = [];
  answer = echoFrames;
  setBackendSrv(fakeBackend());
  setTemplateSrv(
    stubTemplateSrv([
      { name: 'service', value: ['orders', 'billing'] },
      { name: 'one', value: 'orders' },
      { name: 'all', value: ['$__all'], options: ['orders', 'billing'] },
    ])
  );
});

describe('DataSource.query', () => {
  it('sends one backend query per selected value and gives the frames and errors the original refId', async () => {
    const ds = new DataSource(settings);
    const rsp: DataQueryResponse = await lastValueFrom(
      ds.query(request<NatsMicroQuery>([{ refId: 'A', queryType: 'ping', format: 'instant', service: '$service' }]))
    );
    expect(calls).toHaveLength(1);
    const sent = calls[0].data.queries;
    expect(sent.map((q) => [q.refId, q.service])).toEqual([
      ['A-orders', 'orders'],
      ['A-billing', 'billing'],
    ]);
    expect(rsp.data.map((f) => f.refId)).toEqual(['A', 'A']);
    expect(rsp.data.map((f) => f.fields[0].values[0])).toEqual(['orders', 'billing']);
    expect(rsp.errors?.map((e) => e.refId)).toEqual(['A']);
    expect(rsp.errors?.[0].message).toContain('billing');
  });

  it('substitutes single values and All (= empty filter) without renaming', async () => {
    const ds = new DataSource(settings);
    const rsp = await lastValueFrom(
      ds.query(
        request<NatsMicroQuery>([
          { refId: 'A', queryType: 'ping', service: '$one' },
          { refId: 'B', queryType: 'ping', service: '$all' },
        ])
      )
    );
    expect(calls[0].data.queries.map((q) => [q.refId, q.service])).toEqual([
      ['A', 'orders'],
      ['B', ''],
    ]);
    expect(rsp.data.map((f) => f.refId)).toEqual(['A', 'B']);
  });

  it('does not send hidden queries or requests without a subject', async () => {
    const ds = new DataSource(settings);
    await lastValueFrom(
      ds.query(
        request<NatsMicroQuery>([
          { refId: 'A', queryType: 'ping', hide: true },
          { refId: 'B', queryType: 'request' },
          { refId: 'C', queryType: 'request', subject: 'orders.get' },
        ])
      )
    );
    expect(calls[0].data.queries.map((q) => q.refId)).toEqual(['C']);
  });

  it('default query is a ping, instant', () => {
    expect(new DataSource(settings).getDefaultQuery()).toEqual({ queryType: 'ping', format: 'instant' });
  });
});

describe('resource helpers', () => {
  it('ask the documented paths and return the rows', async () => {
    answer = (req) =>
      of({
        data: req.url.endsWith('/services') ? [{ name: 'orders', instances: 2, versions: ['1.0.0'] }] : [],
        status: 200,
        ok: true,
      });
    const ds = new DataSource(settings);
    expect(await ds.services()).toEqual([{ name: 'orders', instances: 2, versions: ['1.0.0'] }]);
    await ds.instances('orders');
    await ds.endpoints('orders');
    expect(calls.map((c) => c.url)).toEqual([
      '/api/datasources/uid/nats/resources/services',
      '/api/datasources/uid/nats/resources/services/orders/instances',
      '/api/datasources/uid/nats/resources/services/orders/endpoints',
    ]);
  });

  it("reject with the backend's {error} text", async () => {
    answer = () => throwError(() => ({ status: 502, data: { error: 'no NATS server at nats://x:4222' } }));
    await expect(new DataSource(settings).services()).rejects.toThrow('no NATS server at nats://x:4222');
  });
});

describe('variable support', () => {
  function rowsOf(r: DataQueryResponse): Array<[string, string]> {
    const f = r.data[0];
    const text = f.fields.find((x: { name: string }) => x.name === 'text');
    const value = f.fields.find((x: { name: string }) => x.name === 'value');
    expect(text.type).toBe(FieldType.string);
    return text.values.map((t: string, i: number) => [t, value.values[i]]);
  }

  it('lists services as text/value', async () => {
    answer = () =>
      of({
        data: [
          { name: 'billing', instances: 1, versions: [] },
          { name: 'orders', instances: 2, versions: [] },
        ],
      });
    const ds = new DataSource(settings);
    const r = await lastValueFrom(vars(ds).query(request<NatsMicroVariableQuery>([{ refId: 'v', kind: 'services' }])));
    expect(rowsOf(r)).toEqual([
      ['billing', 'billing'],
      ['orders', 'orders'],
    ]);
  });

  it('lists instances of every value of a templated service (union)', async () => {
    answer = (req) =>
      of({
        data: req.url.includes('/orders/')
          ? [
              { id: 'o1', version: '1', rttMs: 1 },
              { id: 'shared', version: '1', rttMs: 1 },
            ]
          : [
              { id: 'shared', version: '1', rttMs: 1 },
              { id: 'b1', version: '1', rttMs: 1 },
            ],
      });
    const ds = new DataSource(settings);
    const r = await lastValueFrom(
      vars(ds).query(request<NatsMicroVariableQuery>([{ refId: 'v', kind: 'instances', service: '$service' }]))
    );
    expect(rowsOf(r).map(([t]) => t)).toEqual(['o1', 'shared', 'b1']);
    expect(calls.map((c) => c.url.replace('/api/datasources/uid/nats/resources/', ''))).toEqual([
      'services/orders/instances',
      'services/billing/instances',
    ]);
  });

  it('endpoints without a service is an error, not a request', async () => {
    const ds = new DataSource(settings);
    const r = await lastValueFrom(vars(ds).query(request<NatsMicroVariableQuery>([{ refId: 'v', kind: 'endpoints' }])));
    expect(r.error?.message).toMatch(/choose the service/);
    expect(calls).toHaveLength(0);
  });
});
