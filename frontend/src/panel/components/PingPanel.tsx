//! The ping panel: accumulates ping answers across refreshes and draws RTT per instance over time with a legend.
import { DataFrame, DataQuery, FieldType, PanelData, PanelProps } from '@grafana/data';
import { useTheme2 } from '@grafana/ui';
import React, { useMemo, useState } from 'react';

import { DEFAULT_MAX_POINTS, PingHistory, PingModel, PingPoint } from '../data/pingModel';
import { DEFAULT_OPTIONS, PingPanelOptions } from '../types';
import { PingChart } from './PingChart';
import { PingLegend } from './PingLegend';
import { PingStateStrip, STRIP_MAX_ROWS, STRIP_ROW_HEIGHT } from './PingStateStrip';

export const EMPTY_MESSAGE = 'No ping data — use a NATS Micro ping query';

/** What identifies "the query": when it changes, accumulated history is dropped. */
export function queryIdentity(targets: DataQuery[] | undefined): string {
  if (!targets) {
    return '';
  }
  return JSON.stringify(
    targets.map((t) => {
      // `datasource` may be re-resolved between refreshes (uid vs. object); the rest is the query itself.
      const { datasource: _datasource, ...rest } = t;
      return rest;
    })
  );
}

/** When a snapshot arrived: the end of its request, else its start, else now. */
export function arrivalTime(data: PanelData, now: number): number {
  const r = data.request;
  return r?.endTime ?? r?.startTime ?? now;
}

/**
 * A history that forgets itself when the query changes: the stored query, or what the backend says it executed
 * per refId (`meta.executedQueryString`, e.g. `$SRV.PING.orders` — this catches template variables changing).
 */
class PanelHistory {
  history = new PingHistory(DEFAULT_MAX_POINTS);
  /** `state` frames (a ping query with `metric: state`), for the state strip. */
  stateHistory = new PingHistory(DEFAULT_MAX_POINTS);
  states = new Map<string, PingPoint[]>();
  query = '';
  executed = new Map<string, string>();

  update(data: PanelData, from: number, to: number, maxPoints: number, query: string): PingModel {
    let changed = query !== this.query;
    const executed = new Map<string, string>();
    for (const f of data.series) {
      const e = f.meta?.executedQueryString;
      if (e) {
        executed.set(f.refId ?? '', e);
      }
    }
    for (const [refId, e] of executed) {
      const before = this.executed.get(refId);
      changed ||= before !== undefined && before !== e;
      this.executed.set(refId, e);
    }
    if (changed) {
      this.history.reset();
      this.stateHistory.reset();
      this.query = query;
      this.executed = executed;
    }
    this.history.setMaxPoints(maxPoints);
    this.stateHistory.setMaxPoints(maxPoints);
    const stateFrames = data.series.filter(isStateFrame);
    const update = (series: DataFrame[], h: PingHistory) =>
      h.update({ series, range: { from, to }, now: arrivalTime(data, Date.now()), requestId: data.request?.requestId });
    const states = update(stateFrames, this.stateHistory);
    this.states = new Map(states.series.map((s) => [s.key, s.points]));
    return update(
      data.series.filter((f) => !isStateFrame(f)),
      this.history
    );
  }
}

/** A frame of a ping query with `metric: state` (its number field is `state`). */
export function isStateFrame(frame: DataFrame): boolean {
  return frame.fields.some((f) => f.type === FieldType.number && f.name === 'state');
}

function errorText(data: PanelData): string | undefined {
  const e = data.errors?.[0] ?? data.error;
  return e ? e.message || e.data?.message || 'Query failed' : undefined;
}

export function PingPanel({ data, width, height, options, timeZone, timeRange }: PanelProps<PingPanelOptions>) {
  const theme = useTheme2();
  // One accumulator per panel instance, kept across renders.
  const [acc] = useState(() => new PanelHistory());
  const maxPoints = options.maxPoints ?? DEFAULT_OPTIONS.maxPoints;
  const thresholdMs = options.thresholdMs ?? 0;
  const legend = { ...DEFAULT_OPTIONS.legend, ...options.legend };
  const query = useMemo(() => queryIdentity(data.request?.targets), [data.request?.targets]);
  const from = (timeRange ?? data.timeRange).from.valueOf();
  const to = (timeRange ?? data.timeRange).to.valueOf();

  const model = useMemo(() => acc.update(data, from, to, maxPoints, query), [acc, data, from, to, maxPoints, query]);

  const colors = useMemo(() => {
    // Red means "did not answer" in this panel: lines never use it.
    const all = theme.visualization.palette;
    const noRed = all.filter((c) => !c.toLowerCase().includes('red'));
    const palette = noRed.length ? noRed : all;
    const m = new Map<string, string>();
    model.series.forEach((s, i) => m.set(s.key, theme.visualization.getColorByName(palette[i % palette.length])));
    return m;
  }, [model, theme]);

  const error = errorText(data);
  const root: React.CSSProperties = {
    width,
    height,
    display: 'flex',
    flexDirection: 'column',
    overflow: 'hidden',
    color: theme.colors.text.primary,
    fontFamily: theme.typography.fontFamily,
  };

  if (model.series.length === 0) {
    return (
      <div data-testid="natsmicro-ping-panel" style={{ ...root, alignItems: 'center', justifyContent: 'center' }}>
        {error ? (
          <div data-testid="natsmicro-ping-error" style={{ color: theme.colors.error.text, padding: 8 }}>
            {error}
          </div>
        ) : (
          <div data-testid="natsmicro-ping-empty" style={{ color: theme.colors.text.secondary, padding: 8 }}>
            {EMPTY_MESSAGE}
          </div>
        )}
      </div>
    );
  }

  const showLegend = legend.show !== false;
  const legendHeight = showLegend ? Math.min(22 + 21 * model.series.length, Math.max(60, Math.floor(height * 0.4))) : 0;
  const errorHeight = error ? 20 : 0;
  const showStrip = options.stateStrip !== false;
  const stripHeight = showStrip ? 4 + (STRIP_ROW_HEIGHT + 2) * Math.min(STRIP_MAX_ROWS, model.series.length) : 0;
  const chartHeight = Math.max(40, height - legendHeight - errorHeight - stripHeight);

  return (
    <div data-testid="natsmicro-ping-panel" style={root}>
      {error && (
        <div
          data-testid="natsmicro-ping-error"
          title={error}
          style={{
            height: errorHeight,
            color: theme.colors.error.text,
            fontSize: theme.typography.bodySmall.fontSize,
            overflow: 'hidden',
            textOverflow: 'ellipsis',
            whiteSpace: 'nowrap',
          }}
        >
          {error}
        </div>
      )}
      <PingChart
        model={model}
        width={width}
        height={chartHeight}
        colors={colors}
        thresholdMs={thresholdMs}
        timeZone={timeZone}
        theme={theme}
      />
      {showStrip && <PingStateStrip model={model} states={acc.states} width={width} thresholdMs={thresholdMs} />}
      {showLegend && <PingLegend model={model} colors={colors} calcs={legend.calcs ?? []} height={legendHeight} />}
    </div>
  );
}
