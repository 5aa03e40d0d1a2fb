//! Tests of the ping panel as rendered: lines per instance, down marks, threshold, legend, empty and error states.
import {
  createDataFrame,
  DataFrame,
  DataFrameType,
  dateTime,
  FieldType,
  LoadingState,
  PanelData,
  PanelProps,
  TimeRange,
} from '@grafana/data';
import { act, cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';

import { DEFAULT_OPTIONS, PingPanelOptions } from '../types';
import { EMPTY_MESSAGE, PingPanel, queryIdentity } from './PingPanel';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const RANGE: TimeRange = (() => {
  const from = dateTime(T0 - 10 * 60_000);
  const to = dateTime(T0 + 10 * 60_000);
  return { from, to, raw: { from, to } };
})();

function multi(service: string, id: string, rtts: Array<number | null>): DataFrame {
  return createDataFrame({
    refId: 'A',
    meta: { type: DataFrameType.TimeSeriesMulti, typeVersion: [0, 1] },
    fields: [
      { name: 'time', type: FieldType.time, values: rtts.map((_, i) => T0 + i * 15_000) },
      { name: 'rtt', type: FieldType.number, values: rtts, labels: { service, id }, config: { unit: 'ms' } },
    ],
  });
}

function snapshot(rows: Array<[string, string, number | null]>): DataFrame {
  return createDataFrame({
    name: 'ping',
    refId: 'A',
    meta: { type: DataFrameType.NumericLong, typeVersion: [0, 1] },
    fields: [
      { name: 'service', type: FieldType.string, values: rows.map((r) => r[0]) },
      { name: 'id', type: FieldType.string, values: rows.map((r) => r[1]) },
      { name: 'version', type: FieldType.string, values: rows.map(() => '1.2.3') },
      { name: 'rtt', type: FieldType.number, values: rows.map((r) => r[2]), config: { unit: 'ms' } },
    ],
  });
}

afterEach(cleanup);

let requestCounter = 0;

function panelData(series: DataFrame[], extra: Partial<PanelData> = {}, query = 'orders', at = T0): PanelData {
  requestCounter++;
  return {
    state: LoadingState.Done,
    series,
    timeRange: RANGE,
    request: {
      requestId: `Q${requestCounter}`,
      interval: '15s',
      intervalMs: 15_000,
      range: RANGE,
      scopedVars: {},
      targets: [{ refId: 'A', queryType: 'ping', service: query } as never],
      timezone: 'utc',
      app: 'dashboard',
      startTime: at,
      endTime: at,
    },
    ...extra,
  };
}

function props(data: PanelData, options: Partial<PingPanelOptions> = {}): PanelProps<PingPanelOptions> {
  return {
    id: 1,
    data,
    timeRange: RANGE,
    timeZone: 'utc',
    options: { ...DEFAULT_OPTIONS, ...options },
    transparent: false,
    width: 800,
    height: 400,
    fieldConfig: { defaults: {}, overrides: [] },
    renderCounter: 0,
    title: 'Ping',
    eventBus: undefined as never,
    onOptionsChange: () => {},
    onFieldConfigChange: () => {},
    replaceVariables: (s: string) => s,
    onChangeTimeRange: () => {},
  };
}

function lines() {
  return screen.queryAllByTestId('natsmicro-ping-line');
}

describe('PingPanel', () => {
  it('draws one line per instance, with gaps, a down mark and DOWN in the legend', () => {
    render(
      <PingPanel
        {...props(panelData([multi('orders', 'a1', [1, 2, 3, 4]), multi('orders', 'b2', [5, 6, null, null])]))}
      />
    );
    expect(screen.getByTestId('natsmicro-ping-panel')).toBeTruthy();
    const ls = lines();
    expect(ls.map((l) => l.getAttribute('data-series'))).toEqual(['orders/a1', 'orders/b2']);
    // a1: one continuous run; b2: two answers then silence.
    expect(ls[0].getAttribute('d')!.match(/M/g)).toHaveLength(1);
    expect(ls[0].getAttribute('d')!.match(/L/g)).toHaveLength(3);
    expect(ls[1].getAttribute('d')!.match(/L/g)).toHaveLength(1);
    const down = screen.getAllByTestId('natsmicro-ping-down');
    expect(down.map((d) => d.getAttribute('data-series'))).toEqual(['orders/b2']);
    const rows = screen.getAllByTestId('natsmicro-ping-legend-row');
    // Down first.
    expect(rows.map((r) => [r.getAttribute('data-series'), r.getAttribute('data-status')])).toEqual([
      ['orders/b2', 'down'],
      ['orders/a1', 'up'],
    ]);
    expect(rows[0].textContent).toContain('DOWN');
    // Stats of a1: last 4, mean 2.5, max 4 (ms).
    expect(rows[1].textContent).toMatch(/4 ms.*2\.50? ms.*4 ms/);
    // Of b2, ignoring nulls: last 6, mean 5.5, max 6.
    expect(rows[0].textContent).toMatch(/6 ms.*5\.50? ms.*6 ms/);
  });

  it('colours a state strip per instance from state frames, and gives each its uptime', () => {
    const states = (id: string, codes: number[]) =>
      createDataFrame({
        refId: 'B',
        meta: { type: DataFrameType.TimeSeriesMulti, typeVersion: [0, 1] },
        fields: [
          { name: 'time', type: FieldType.time, values: codes.map((_, i) => T0 + i * 15_000) },
          { name: 'state', type: FieldType.number, values: codes, labels: { service: 'orders', id } },
        ],
      });
    render(
      <PingPanel
        {...props(
          panelData([
            multi('orders', 'a1', [1, 2, 3, 4]),
            multi('orders', 'b2', [5, 6, null, null]),
            states('b2', [0, 0, 2, 3]),
          ])
        )}
      />
    );
    // The state frame draws no line of its own.
    expect(lines().map((l) => l.getAttribute('data-series'))).toEqual(['orders/a1', 'orders/b2']);
    const strip = screen.getByTestId('natsmicro-ping-strip');
    const rowOf = (key: string) => strip.querySelector(`[data-series="${key}"]`)!;
    const names = (key: string) =>
      [...rowOf(key).querySelectorAll('[data-testid="natsmicro-ping-strip-segment"]')].map((e) =>
        e.getAttribute('data-state')
      );
    expect(names('orders/b2')).toEqual(['up', 'unresponsive', 'gone']);
    // Without a state series, the RTT decides.
    expect(names('orders/a1')).toEqual(['up']);
    const uptimes = screen.getAllByTestId('natsmicro-ping-legend-uptime').map((e) => e.textContent);
    expect(uptimes).toEqual(['50.00%', '100%']);
  });

  it('hides the state strip when asked', () => {
    render(<PingPanel {...props(panelData([multi('orders', 'a1', [1, 2])]), { stateStrip: false })} />);
    expect(screen.queryByTestId('natsmicro-ping-strip')).toBeNull();
  });

  it('no down marks when every instance answered', () => {
    render(<PingPanel {...props(panelData([multi('s', 'x', [1, 2]), multi('s', 'y', [3, 4])]))} />);
    expect(lines()).toHaveLength(2);
    expect(screen.queryAllByTestId('natsmicro-ping-down')).toHaveLength(0);
    expect(screen.queryAllByTestId('natsmicro-ping-legend-down')).toHaveLength(0);
  });

  it('a gap splits a line into two subpaths', () => {
    render(<PingPanel {...props(panelData([multi('s', 'x', [1, 2, null, 3, 4])]))} />);
    expect(lines()[0].getAttribute('d')!.match(/M/g)).toHaveLength(2);
  });

  it('accumulates instant snapshots across refreshes, without duplicates on re-render', () => {
    const p1 = panelData(
      [
        snapshot([
          ['orders', 'a', 1],
          ['orders', 'b', 2],
        ]),
      ],
      {},
      'orders',
      T0
    );
    const { rerender } = render(<PingPanel {...props(p1)} />);
    rerender(
      <PingPanel
        {...props(
          panelData(
            [
              snapshot([
                ['orders', 'a', 3],
                ['orders', 'b', null],
              ]),
            ],
            {},
            'orders',
            T0 + 15_000
          )
        )}
      />
    );
    const p3 = panelData(
      [
        snapshot([
          ['orders', 'a', 5],
          ['orders', 'b', null],
        ]),
      ],
      {},
      'orders',
      T0 + 30_000
    );
    rerender(<PingPanel {...props(p3)} />);
    // Same data again (e.g. a resize): nothing added.
    rerender(<PingPanel {...props(p3)} />);
    const ls = lines();
    expect(ls).toHaveLength(2);
    expect(ls[0].getAttribute('d')!.match(/[ML]/g)).toHaveLength(3);
    // b: one answer, then two rounds down → a dot and a down mark.
    expect(ls[1].getAttribute('d')).toMatch(/^M[\d.]+ [\d.]+h0$/);
    expect(screen.getAllByTestId('natsmicro-ping-down').map((d) => d.getAttribute('data-series'))).toEqual([
      'orders/b',
    ]);
    const rows = screen.getAllByTestId('natsmicro-ping-legend-row');
    expect(rows[0].getAttribute('data-series')).toBe('orders/b');
    expect(rows[0].textContent).toContain('DOWN');
    expect(rows[0].textContent).toContain('1.2.3');
  });

  it('forgets accumulated history when the query changes', () => {
    const { rerender } = render(
      <PingPanel {...props(panelData([snapshot([['orders', 'a', 1]])], {}, 'orders', T0))} />
    );
    rerender(<PingPanel {...props(panelData([snapshot([['orders', 'a', 2]])], {}, 'orders', T0 + 15_000))} />);
    expect(lines()[0].getAttribute('d')!.match(/[ML]/g)).toHaveLength(2);
    rerender(<PingPanel {...props(panelData([snapshot([['billing', 'z', 2]])], {}, 'billing', T0 + 30_000))} />);
    expect(lines().map((l) => l.getAttribute('data-series'))).toEqual(['billing/z']);
  });

  it('forgets accumulated history when the executed subject changes (a template variable changed)', () => {
    const withSubject = (f: DataFrame, subject: string) => ({
      ...f,
      meta: { ...f.meta, executedQueryString: subject },
    });
    const q = (rows: Array<[string, string, number | null]>, subject: string, at: number) =>
      panelData([withSubject(snapshot(rows), subject)], {}, '$service', at);
    const { rerender } = render(<PingPanel {...props(q([['orders', 'a', 1]], '$SRV.PING.orders', T0))} />);
    rerender(<PingPanel {...props(q([['orders', 'a', 2]], '$SRV.PING.orders', T0 + 15_000))} />);
    // An error round without frames does not count as a change.
    rerender(<PingPanel {...props(panelData([], { errors: [{ message: 'x' }] }, '$service', T0 + 30_000))} />);
    rerender(<PingPanel {...props(q([['orders', 'a', 3]], '$SRV.PING.orders', T0 + 45_000))} />);
    expect(lines()[0].getAttribute('d')!.match(/[ML]/g)).toHaveLength(3);
    rerender(<PingPanel {...props(q([['billing', 'z', 2]], '$SRV.PING.billing', T0 + 60_000))} />);
    expect(lines().map((l) => l.getAttribute('data-series'))).toEqual(['billing/z']);
  });

  it('draws the threshold line only when set', () => {
    const data = panelData([multi('s', 'x', [1, 2])]);
    const { rerender } = render(<PingPanel {...props(data)} />);
    expect(screen.queryByTestId('natsmicro-ping-threshold')).toBeNull();
    rerender(<PingPanel {...props(data, { thresholdMs: 50 })} />);
    const th = screen.getByTestId('natsmicro-ping-threshold');
    expect(th.textContent).toBe('50 ms');
    // The y axis stretches to show it.
    const labels = screen.getByTestId('natsmicro-ping-yaxis').textContent!;
    expect(labels).toContain('50 ms');
  });

  it('hides the legend when asked and shows only chosen calcs', () => {
    const data = panelData([multi('s', 'x', [1, 2])]);
    const { rerender } = render(<PingPanel {...props(data, { legend: { show: false, calcs: [] } })} />);
    expect(screen.queryByTestId('natsmicro-ping-legend')).toBeNull();
    rerender(<PingPanel {...props(data, { legend: { show: true, calcs: ['max'] } })} />);
    const head = screen.getByTestId('natsmicro-ping-legend').querySelector('thead')!.textContent;
    expect(head).toContain('Max');
    expect(head).not.toContain('Mean');
  });

  it('says what to do when there is no data', () => {
    render(<PingPanel {...props(panelData([]))} />);
    expect(screen.getByTestId('natsmicro-ping-panel').textContent).toBe(EMPTY_MESSAGE);
    expect(lines()).toHaveLength(0);
  });

  it('shows the query error when there is nothing to draw', () => {
    render(
      <PingPanel {...props(panelData([], { state: LoadingState.Error, errors: [{ message: 'nats: timeout' }] }))} />
    );
    expect(screen.getByTestId('natsmicro-ping-error').textContent).toBe('nats: timeout');
  });

  it('labels the time axis in the dashboard time zone', () => {
    render(<PingPanel {...props(panelData([multi('s', 'x', [1, 2])]))} />);
    const text = screen.getByTestId('natsmicro-ping-xaxis').textContent!;
    // Range 11:50–12:10 UTC: ticks on round minutes.
    expect(text).toContain('12:00');
  });

  it('shows a tooltip on hover', () => {
    const { container } = render(<PingPanel {...props(panelData([multi('s', 'x', [1, 2, 3])]))} />);
    const overlay = container.querySelector('rect[fill="transparent"]')!;
    act(() => {
      overlay.dispatchEvent(new MouseEvent('mousemove', { bubbles: true, clientX: 400, clientY: 100 }));
    });
    expect(screen.getByTestId('natsmicro-ping-tooltip').textContent).toContain('s/x');
  });
});

describe('queryIdentity', () => {
  it('ignores the datasource reference but not the query', () => {
    const a = queryIdentity([{ refId: 'A', datasource: { uid: 'x' } }]);
    expect(a).toBe(queryIdentity([{ refId: 'A', datasource: { uid: 'y' } }]));
    expect(a).not.toBe(queryIdentity([{ refId: 'B' }]));
  });
});
