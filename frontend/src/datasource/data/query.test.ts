//! Tests of the query model helpers.
import { describe, expect, it } from 'vitest';

import {
  isDataMetric,
  canAggregate,
  canStream,
  describeQuery,
  headersToRows,
  isRunnable,
  normalizeQuery,
  rowsToHeaders,
} from './query';

describe('normalizeQuery', () => {
  it('keeps live only where the query can stream', () => {
    const ts = normalizeQuery({ refId: 'A', queryType: 'stats', format: 'timeseries', live: false });
    expect(ts.live).toBe(false);
    expect(canStream(ts)).toBe(true);
    expect(normalizeQuery({ refId: 'A', queryType: 'stats', format: 'table', live: false }).live).toBeUndefined();
    expect(canStream({ refId: 'A', queryType: 'services', format: 'timeseries' })).toBe(false);
  });

  it('keeps aggregate only where it applies, and an aggregated query does not stream', () => {
    const agg = normalizeQuery({ refId: 'A', queryType: 'stats', format: 'timeseries', aggregate: 'sum', live: true });
    expect(agg.aggregate).toBe('sum');
    expect(canAggregate(agg)).toBe(true);
    expect(canStream(agg)).toBe(false);
    expect(agg.live).toBeUndefined();
    expect(describeQuery(agg)).toContain(
      'one series per service and endpoint (alertable) — value: sum of request_rate'
    );
    expect(
      normalizeQuery({ refId: 'A', queryType: 'ping', format: 'table', aggregate: 'sum' }).aggregate
    ).toBeUndefined();
    expect(normalizeQuery({ refId: 'A', queryType: 'services', aggregate: 'max' }).aggregate).toBeUndefined();
    expect(normalizeQuery({ refId: 'A', queryType: 'ping', aggregate: 'none' }).aggregate).toBeUndefined();
    expect(canAggregate({ refId: 'A', queryType: 'events', format: 'table' })).toBe(false);
  });

  it('keeps objective and minInstances for slo queries only', () => {
    const slo = normalizeQuery({ refId: 'A', queryType: 'slo', objective: 0.99, minInstances: 2 });
    expect(slo).toEqual({
      refId: 'A',
      queryType: 'slo',
      format: 'instant',
      metric: 'uptime',
      objective: 0.99,
      minInstances: 2,
    });
    expect(describeQuery(slo)).toContain('one numeric value per service over the time range');
    expect(describeQuery({ ...slo, format: 'timeseries' })).toContain('over the 5 minutes before it');
    const ping = normalizeQuery({ refId: 'A', queryType: 'ping', objective: 0.99, minInstances: 2 });
    expect(ping.objective).toBeUndefined();
    expect(ping.minInstances).toBeUndefined();
  });

  it('writes queryType, format and metric explicitly', () => {
    expect(normalizeQuery({ refId: 'A' })).toEqual({ refId: 'A', queryType: 'ping', format: 'instant', metric: 'rtt' });
  });
  it('replaces a format the type does not answer and an unknown metric', () => {
    expect(normalizeQuery({ refId: 'A', queryType: 'info', format: 'instant', metric: 'rtt' })).toEqual({
      refId: 'A',
      queryType: 'info',
      format: 'table',
    });
    expect(normalizeQuery({ refId: 'A', queryType: 'stats', metric: 'rtt' }).metric).toBe('requests');
    expect(normalizeQuery({ refId: 'A', queryType: 'stats', metric: 'errors' }).metric).toBe('errors');
  });
  it('drops filters and fields the type does not use', () => {
    const n = normalizeQuery({
      refId: 'A',
      queryType: 'services',
      service: 'orders',
      instance: 'x',
      endpoint: 'e',
      subject: 's',
    });
    expect(n).toEqual({ refId: 'A', queryType: 'services', format: 'instant', metric: 'instances', service: 'orders' });
    const r = normalizeQuery({ refId: 'B', queryType: 'request', service: 'orders', subject: 'a.b', payload: 'x' });
    expect(r).toEqual({ refId: 'B', queryType: 'request', format: 'table', subject: 'a.b', payload: 'x' });
  });
  it('keeps custom data metrics on stats only, with a valid path, and they do not stream', () => {
    const ts = normalizeQuery({
      refId: 'A',
      queryType: 'stats',
      format: 'timeseries',
      metric: 'data:queue.depth',
      live: true,
    });
    expect(ts.metric).toBe('data:queue.depth');
    expect(ts.live).toBeUndefined();
    expect(normalizeQuery({ refId: 'A', queryType: 'stats', format: 'table', metric: 'data' }).metric).toBe('data');
    expect(normalizeQuery({ refId: 'A', queryType: 'stats', format: 'instant', metric: 'data' }).metric).toBe(
      'requests'
    );
    expect(normalizeQuery({ refId: 'A', queryType: 'stats', format: 'instant', metric: 'data:a..b' }).metric).toBe(
      'requests'
    );
    expect(normalizeQuery({ refId: 'A', queryType: 'ping', format: 'instant', metric: 'data:x' }).metric).toBe('rtt');
    expect(isDataMetric('stats', 'instant', 'data:workers.0.busy')).toBe(true);
    expect(isDataMetric('stats', 'instant', 'data:a b')).toBe(false);
  });

  it('describes probe queries by probe, not by instance', () => {
    expect(describeQuery({ refId: 'A', queryType: 'probe', format: 'instant', metric: 'success' })).toContain(
      'labelled by probe and subject'
    );
    expect(describeQuery({ refId: 'A', queryType: 'probe', format: 'table' })).toContain('why it failed');
  });

  it('an unknown queryType falls back to ping', () => {
    expect(normalizeQuery({ refId: 'A', queryType: 'pong' as never }).queryType).toBe('ping');
  });
});

describe('isRunnable', () => {
  it('skips hidden queries and requests without subject', () => {
    expect(isRunnable({ refId: 'A', queryType: 'ping' })).toBe(true);
    expect(isRunnable({ refId: 'A', queryType: 'ping', hide: true })).toBe(false);
    expect(isRunnable({ refId: 'A', queryType: 'request' })).toBe(false);
    expect(isRunnable({ refId: 'A', queryType: 'request', subject: '  ' })).toBe(false);
    expect(isRunnable({ refId: 'A', queryType: 'request', subject: 'a.b' })).toBe(true);
  });
});

describe('headers and hints', () => {
  it('round-trips header rows, dropping empty names', () => {
    const rows = headersToRows({ a: '1', b: '2' });
    expect(rows).toEqual([
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
    ]);
    expect(rowsToHeaders([...rows, { key: ' ', value: 'x' }, { key: ' c ', value: '3' }])).toEqual({
      a: '1',
      b: '2',
      c: '3',
    });
  });
  it('describes what comes back', () => {
    expect(describeQuery({ refId: 'A', queryType: 'ping', format: 'instant', metric: 'up' })).toContain('value: up');
    expect(describeQuery({ refId: 'A', queryType: 'info' })).toContain('endpoints');
  });
});
