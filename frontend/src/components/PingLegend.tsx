//! Legend table of the ping panel: one row per instance with status (UP / DOWN in red) and last/mean/max.
import { formattedValueToString, getValueFormat, GrafanaTheme2 } from '@grafana/data';
import React, { useMemo } from 'react';

import { PingModel, PingSeries, pingStats, PingStats } from '../data/pingModel';
import { PingCalc } from '../panel/types';

export interface PingLegendProps {
  model: PingModel;
  colors: Map<string, string>;
  calcs: PingCalc[];
  height: number;
  theme: GrafanaTheme2;
}

const CALC_TITLES: Record<PingCalc, string> = { last: 'Last', mean: 'Mean', max: 'Max', min: 'Min' };

/** Rows beyond this are summarised: a legend of thousands of rows helps nobody and costs render time. */
export const LEGEND_MAX_ROWS = 200;

interface Row {
  series: PingSeries;
  stats: PingStats;
}

export function PingLegend({ model, colors, calcs, height, theme }: PingLegendProps) {
  const rows = useMemo(() => {
    const all: Row[] = model.series.map((s) => ({ series: s, stats: pingStats(s.points) }));
    // Down instances first: they are what the panel is for.
    all.sort((a, b) => Number(a.stats.up) - Number(b.stats.up) || (a.series.key < b.series.key ? -1 : 1));
    return all;
  }, [model]);
  const fmt = useMemo(() => {
    const f = getValueFormat(model.series[0]?.unit || 'ms');
    return (v: number | null) => (v === null ? '–' : formattedValueToString(f(v)));
  }, [model]);
  const red = theme.visualization.getColorByName('red');
  const green = theme.visualization.getColorByName('green');
  const cell: React.CSSProperties = { padding: '1px 8px', textAlign: 'right', whiteSpace: 'nowrap' };
  const shown = rows.slice(0, LEGEND_MAX_ROWS);
  return (
    <div
      data-testid="natsmicro-ping-legend"
      style={{ maxHeight: height, overflowY: 'auto', fontSize: theme.typography.bodySmall.fontSize }}
    >
      <table style={{ width: '100%', borderCollapse: 'collapse', color: theme.colors.text.primary }}>
        <thead>
          <tr style={{ color: theme.colors.text.secondary, textAlign: 'left' }}>
            <th style={{ ...cell, textAlign: 'left', fontWeight: theme.typography.fontWeightMedium }}>Instance</th>
            <th style={{ ...cell, textAlign: 'left', fontWeight: theme.typography.fontWeightMedium }}>Version</th>
            <th style={{ ...cell, textAlign: 'left', fontWeight: theme.typography.fontWeightMedium }}>Status</th>
            {calcs.map((c) => (
              <th key={c} style={{ ...cell, fontWeight: theme.typography.fontWeightMedium }}>
                {CALC_TITLES[c]}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {shown.map(({ series: s, stats }) => (
            <tr
              key={s.key}
              data-testid="natsmicro-ping-legend-row"
              data-series={s.key}
              data-status={stats.up ? 'up' : 'down'}
              style={{ borderTop: `1px solid ${theme.colors.border.weak}` }}
            >
              <td style={{ ...cell, textAlign: 'left' }} title={s.key}>
                <span
                  style={{
                    display: 'inline-block',
                    width: 14,
                    height: 4,
                    marginRight: 6,
                    verticalAlign: 'middle',
                    borderRadius: 2,
                    background: colors.get(s.key),
                  }}
                />
                <span style={stats.up ? undefined : { color: red }}>{s.name}</span>
              </td>
              <td style={{ ...cell, textAlign: 'left', color: theme.colors.text.secondary }}>{s.version ?? ''}</td>
              <td style={{ ...cell, textAlign: 'left', fontWeight: theme.typography.fontWeightBold }}>
                {stats.up ? (
                  <span style={{ color: green }}>UP</span>
                ) : (
                  <span style={{ color: red }} data-testid="natsmicro-ping-legend-down">
                    DOWN
                  </span>
                )}
              </td>
              {calcs.map((c) => (
                <td key={c} style={cell}>
                  {fmt(stats[c])}
                </td>
              ))}
            </tr>
          ))}
          {rows.length > shown.length && (
            <tr>
              <td colSpan={3 + calcs.length} style={{ ...cell, textAlign: 'left', color: theme.colors.text.secondary }}>
                … and {rows.length - shown.length} more instances (
                {rows.slice(shown.length).filter((r) => !r.stats.up).length} down)
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
