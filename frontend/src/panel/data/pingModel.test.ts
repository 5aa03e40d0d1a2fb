//! Tests of the ping data model: time-series frames, wide frames, snapshot accumulation, caps and stats.
import { createDataFrame, DataFrameType, FieldType } from '@grafana/data';
import { describe, expect, it } from 'vitest';

import { mergePoints, PingHistory, pingStats, shortId } from './pingModel';

const T0 = 1_700_000_000_000;
const RANGE = { from: T0 - 3_600_000, to: T0 + 3_600_000 };

function multi(service: string, id: string, times: number[], rtts: Array<number | null>, version?: string) {
  return createDataFrame({
    name: 'ping',
    refId: 'A',
    meta: { type: DataFrameType.TimeSeriesMulti, typeVersion: [0, 1] },
    fields: [
      { name: 'time', type: FieldType.time, values: times },
      {
        name: 'rtt',
        type: FieldType.number,
        values: rtts,
        labels: version ? { service, id, version } : { service, id },
        config: { unit: 'ms' },
      },
    ],
  });
}

function snapshot(rows: Array<[string, string, number | null]>, metric: 'rtt' | 'up' = 'rtt') {
  return createDataFrame({
    name: 'ping',
    refId: 'A',
    meta: { type: DataFrameType.NumericLong, typeVersion: [0, 1] },
    fields: [
      { name: 'service', type: FieldType.string, values: rows.map((r) => r[0]) },
      { name: 'id', type: FieldType.string, values: rows.map((r) => r[1]) },
      { name: 'version', type: FieldType.string, values: rows.map(() => '1.0.0') },
      {
        name: metric,
        type: FieldType.number,
        values: rows.map((r) => (metric === 'up' ? (r[2] === null ? 0 : 1) : r[2])),
        config: { unit: metric === 'rtt' ? 'ms' : undefined },
      },
    ],
  });
}

describe('time-series frames', () => {
  it('timeseries-multi: one series per frame, identified by labels', () => {
    const h = new PingHistory();
    const m = h.update({
      series: [
        multi('orders', 'AAA', [T0, T0 + 1000], [1.5, 2.5], '1.0.0'),
        multi('billing', 'BBB', [T0, T0 + 1000], [3, null]),
      ],
      range: RANGE,
      now: T0 + 2000,
    });
    expect(m.series.map((s) => s.key)).toEqual(['billing/BBB', 'orders/AAA']);
    const orders = m.series[1];
    expect(orders.service).toBe('orders');
    expect(orders.id).toBe('AAA');
    expect(orders.version).toBe('1.0.0');
    expect(orders.unit).toBe('ms');
    expect(orders.points).toEqual([
      { t: T0, rttMs: 1.5 },
      { t: T0 + 1000, rttMs: 2.5 },
    ]);
    expect(m.down).toEqual(['billing/BBB']);
  });

  it('wide frames: one series per labelled number field', () => {
    const wide = createDataFrame({
      fields: [
        { name: 'time', type: FieldType.time, values: [T0, T0 + 1000, T0 + 2000] },
        { name: 'rtt', type: FieldType.number, values: [1, 2, 3], labels: { service: 's', id: 'a' } },
        { name: 'rtt', type: FieldType.number, values: [4, null, 6], labels: { service: 's', id: 'b' } },
        { name: 'rtt', type: FieldType.number, values: [7, 8, null], labels: { service: 't', id: 'c' } },
      ],
    });
    const m = new PingHistory().update({ series: [wide], range: RANGE, now: T0 });
    expect(m.series.map((s) => s.key)).toEqual(['s/a', 's/b', 't/c']);
    expect(m.series[1].points.map((p) => p.rttMs)).toEqual([4, null, 6]);
    expect(m.down).toEqual(['t/c']);
  });

  it('streaming: a frame that grows adds only its new points; the same data twice adds nothing', () => {
    const times = [T0, T0 + 1000];
    const values: Array<number | null> = [1, 2];
    const frame = multi('s', 'a', times, values);
    const h = new PingHistory();
    const series = [frame];
    expect(h.update({ series, range: RANGE, now: T0 }).series[0].points).toHaveLength(2);
    expect(h.update({ series, range: RANGE, now: T0 + 5 }).series[0].points).toHaveLength(2);
    // Grafana Live appends in place.
    frame.fields[0].values.push(T0 + 2000, T0 + 3000);
    frame.fields[1].values.push(null, 4);
    frame.length = 4;
    const m = h.update({ series, range: RANGE, now: T0 + 10 });
    expect(m.series[0].points.map((p) => p.rttMs)).toEqual([1, 2, null, 4]);
    expect(h.update({ series: [frame], range: RANGE, now: T0 + 20 }).series[0].points).toHaveLength(4);
  });

  it('streaming ring buffer: a shifted frame is re-read, not appended to', () => {
    const frame = multi('s', 'a', [T0, T0 + 1000, T0 + 2000], [1, 2, 3]);
    const h = new PingHistory();
    h.update({ series: [frame], range: RANGE, now: T0 });
    frame.fields[0].values.splice(0, 1);
    frame.fields[0].values.push(T0 + 3000);
    frame.fields[1].values.splice(0, 1);
    frame.fields[1].values.push(4);
    const m = h.update({ series: [frame], range: RANGE, now: T0 });
    expect(m.series[0].points.map((p) => p.t)).toEqual([T0 + 1000, T0 + 2000, T0 + 3000]);
  });

  it('drops points older than the range and keeps the newest maxPoints', () => {
    const times = Array.from({ length: 50 }, (_, i) => T0 + i * 1000);
    const frame = multi(
      's',
      'a',
      times,
      times.map((_, i) => i)
    );
    const m = new PingHistory(10).update({ series: [frame], range: { from: T0 + 5000, to: T0 + 60_000 }, now: T0 });
    expect(m.series[0].points).toHaveLength(10);
    expect(m.series[0].points[0]).toEqual({ t: T0 + 40_000, rttMs: 40 });
    const m2 = new PingHistory(100).update({ series: [frame], range: { from: T0 + 45_000, to: T0 + 60_000 }, now: T0 });
    expect(m2.series[0].points.map((p) => p.rttMs)).toEqual([45, 46, 47, 48, 49]);
  });
  it('long time-series frames (time + service/id columns) split into one series per instance', () => {
    const long = createDataFrame({
      fields: [
        { name: 'time', type: FieldType.time, values: [T0 + 1000, T0, T0, T0 + 1000] },
        { name: 'service', type: FieldType.string, values: ['s', 's', 's', 's'] },
        { name: 'id', type: FieldType.string, values: ['a', 'a', 'b', 'b'] },
        { name: 'rtt', type: FieldType.number, values: [2, 1, 3, null] },
      ],
    });
    const m = new PingHistory().update({ series: [long], range: RANGE, now: T0 });
    expect(m.series.map((s) => [s.key, s.points.map((p) => p.rttMs)])).toEqual([
      ['s/a', [1, 2]],
      ['s/b', [3, null]],
    ]);
    expect(m.down).toEqual(['s/b']);
  });

  it('the same instance in two frames (version label changed) is one line', () => {
    const m = new PingHistory().update({
      series: [multi('s', 'a', [T0, T0 + 1000], [1, 2], '1.0.0'), multi('s', 'a', [T0 + 2000], [3], '1.1.0')],
      range: RANGE,
      now: T0,
    });
    expect(m.series).toHaveLength(1);
    expect(m.series[0].points.map((p) => p.rttMs)).toEqual([1, 2, 3]);
    expect(m.series[0].version).toBe('1.1.0');
  });

  it('the same data twice gives the very same model (memoised consumers do not redraw)', () => {
    const h = new PingHistory();
    const series = [multi('s', 'a', [T0], [1])];
    const a = h.update({ series, range: RANGE, now: T0 });
    expect(h.update({ series, range: RANGE, now: T0 + 1 })).toBe(a);
  });
});

describe('snapshot accumulation (numeric-long)', () => {
  it('three snapshots make three points per instance; a null row is a gap and marks the instance down', () => {
    const h = new PingHistory();
    h.update({
      series: [
        snapshot([
          ['orders', 'a', 1],
          ['orders', 'b', 2],
        ]),
      ],
      range: RANGE,
      now: T0,
      requestId: 'Q1',
    });
    h.update({
      series: [
        snapshot([
          ['orders', 'a', 3],
          ['orders', 'b', null],
        ]),
      ],
      range: RANGE,
      now: T0 + 1000,
      requestId: 'Q2',
    });
    const m = h.update({
      series: [
        snapshot([
          ['orders', 'a', 5],
          ['orders', 'b', null],
        ]),
      ],
      range: RANGE,
      now: T0 + 2000,
      requestId: 'Q3',
    });
    expect(m.series.map((s) => s.key)).toEqual(['orders/a', 'orders/b']);
    expect(m.series[0].points).toEqual([
      { t: T0, rttMs: 1 },
      { t: T0 + 1000, rttMs: 3 },
      { t: T0 + 2000, rttMs: 5 },
    ]);
    expect(m.series[1].points.map((p) => p.rttMs)).toEqual([2, null, null]);
    expect(m.series[1].version).toBe('1.0.0');
    expect(m.down).toEqual(['orders/b']);
    expect(pingStats(m.series[1].points).up).toBe(false);
    expect(pingStats(m.series[0].points).up).toBe(true);
  });

  it('an instance that answers again comes back up', () => {
    const h = new PingHistory();
    h.update({ series: [snapshot([['s', 'a', null]])], range: RANGE, now: T0 });
    const m = h.update({ series: [snapshot([['s', 'a', 7]])], range: RANGE, now: T0 + 1000 });
    expect(m.down).toEqual([]);
    expect(m.series[0].points.map((p) => p.rttMs)).toEqual([null, 7]);
  });

  it('re-delivery of the same snapshot (same frames, or same request id) adds no point', () => {
    const h = new PingHistory();
    const frames = [snapshot([['s', 'a', 1]])];
    h.update({ series: frames, range: RANGE, now: T0, requestId: 'Q1' });
    // A re-render: same frames object, later clock.
    h.update({ series: frames, range: RANGE, now: T0 + 500, requestId: 'Q1' });
    // Same frame objects in a new array.
    h.update({ series: [...frames], range: RANGE, now: T0 + 700 });
    // New frame objects (field config re-applied) under the same request id.
    const m = h.update({ series: [snapshot([['s', 'a', 1]])], range: RANGE, now: T0 + 900, requestId: 'Q1' });
    expect(m.series[0].points).toEqual([{ t: T0, rttMs: 1 }]);
    // A real refresh adds one.
    const m2 = h.update({ series: [snapshot([['s', 'a', 2]])], range: RANGE, now: T0 + 1000, requestId: 'Q2' });
    expect(m2.series[0].points).toHaveLength(2);
  });

  it('caps points per series, dropping the oldest', () => {
    const h = new PingHistory(5);
    let m = h.update({ series: [], range: RANGE, now: T0 });
    for (let i = 0; i < 12; i++) {
      m = h.update({ series: [snapshot([['s', 'a', i]])], range: RANGE, now: T0 + i * 1000, requestId: `Q${i}` });
    }
    expect(m.series[0].points.map((p) => p.rttMs)).toEqual([7, 8, 9, 10, 11]);
    expect(h.snapshotPointCount).toBe(5);
  });

  it('drops accumulated points that fall out of the range and forgets empty series', () => {
    const h = new PingHistory();
    h.update({ series: [snapshot([['s', 'old', 1]])], range: RANGE, now: T0 });
    h.update({ series: [snapshot([['s', 'a', 2]])], range: RANGE, now: T0 + 60_000 });
    const m = h.update({
      series: [snapshot([['s', 'a', 3]])],
      range: { from: T0 + 30_000, to: T0 + 120_000 },
      now: T0 + 120_000,
    });
    expect(m.series.map((s) => s.key)).toEqual(['s/a']);
    expect(m.series[0].points.map((p) => p.t)).toEqual([T0 + 60_000, T0 + 120_000]);
  });

  it('metric=up: 0 rows are down, 1 rows are up', () => {
    const h = new PingHistory();
    const m = h.update({
      series: [
        snapshot(
          [
            ['s', 'a', 1],
            ['s', 'b', null],
          ],
          'up'
        ),
      ],
      range: RANGE,
      now: T0,
    });
    expect(m.down).toEqual(['s/b']);
    expect(m.series[0].points[0].rttMs).toBe(1);
  });

  it('reset forgets history', () => {
    const h = new PingHistory();
    h.update({ series: [snapshot([['s', 'a', 1]])], range: RANGE, now: T0 });
    h.reset();
    const m = h.update({ series: [snapshot([['s', 'a', 2]])], range: RANGE, now: T0 + 1000 });
    expect(m.series[0].points).toEqual([{ t: T0 + 1000, rttMs: 2 }]);
  });
});

describe('stats and helpers', () => {
  it('last, mean, max ignore nulls', () => {
    const s = pingStats([
      { t: 1, rttMs: 2 },
      { t: 2, rttMs: null },
      { t: 3, rttMs: 10 },
      { t: 4, rttMs: 3 },
      { t: 5, rttMs: null },
    ]);
    expect(s.last).toBe(3);
    expect(s.mean).toBe(5);
    expect(s.max).toBe(10);
    expect(s.min).toBe(2);
    expect(s.count).toBe(3);
    expect(s.downCount).toBe(2);
    expect(s.up).toBe(false);
  });

  it('no values: stats are null', () => {
    const s = pingStats([{ t: 1, rttMs: null }]);
    expect([s.last, s.mean, s.max]).toEqual([null, null, null]);
  });

  it('shortId keeps the distinguishing tail of a NUID', () => {
    expect(shortId('abc')).toBe('abc');
    expect(shortId('Pq8bSVyQ4r2ouGdNcN5dGt')).toBe('…dNcN5dGt');
  });

  it('mergePoints keeps one point per time, preferring an answer', () => {
    expect(
      mergePoints(
        [
          { t: 1, rttMs: null },
          { t: 3, rttMs: 3 },
        ],
        [
          { t: 1, rttMs: 1 },
          { t: 2, rttMs: 2 },
        ],
        10
      ).map((p) => p.rttMs)
    ).toEqual([1, 2, 3]);
  });
});
