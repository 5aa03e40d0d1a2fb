//! Legend table of the ping panel: one row per instance with status (UP / DOWN in red), uptime and last/mean/max.
import { css } from '@emotion/css';
import { formattedValueToString, getValueFormat, GrafanaTheme2 } from '@grafana/data';
import { useStyles2 } from '@grafana/ui';
import { useMemo } from 'react';

import { PingModel, PingSeries, pingStats, PingStats } from '../data/pingModel';
import { uptime } from '../data/stateStrip';
import { PingCalc } from '../types';

/** 0.9934 → `99.34%`, null → `–`. */
function percent(v: number | null): string {
  return v === null ? '–' : `${(v * 100).toFixed(v === 1 ? 0 : 2)}%`;
}

export interface PingLegendProps {
  model: PingModel;
  colors: Map<string, string>;
  calcs: PingCalc[];
  height: number;
}

const CALC_TITLES: Record<PingCalc, string> = { last: 'Last', mean: 'Mean', max: 'Max', min: 'Min' };

/** Rows beyond this are summarised: a legend of thousands of rows helps nobody and costs render time. */
export const LEGEND_MAX_ROWS = 200;

interface Row {
  series: PingSeries;
  stats: PingStats;
}

export function PingLegend({ model, colors, calcs, height }: PingLegendProps) {
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
  const styles = useStyles2(getStyles);
  const shown = rows.slice(0, LEGEND_MAX_ROWS);
  return (
    <div data-testid="natsmicro-ping-legend" className={styles.wrap} style={{ maxHeight: height }}>
      <table className={styles.table}>
        <thead>
          <tr>
            <th>Instance</th>
            <th>Version</th>
            <th>Status</th>
            <th title="Share of this panel's points in which the instance answered">Uptime</th>
            {calcs.map((c) => (
              <th key={c}>{CALC_TITLES[c]}</th>
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
            >
              <td className={stats.up ? undefined : styles.nameDown} title={s.key}>
                <span className={styles.swatch} style={{ background: colors.get(s.key) }} />
                {s.name}
              </td>
              <td className={styles.version} data-testid="natsmicro-ping-legend-version">
                {s.version ?? ''}
              </td>
              {stats.up ? (
                <td className={styles.up}>UP</td>
              ) : (
                <td className={styles.down} data-testid="natsmicro-ping-legend-down">
                  DOWN
                </td>
              )}
              <td data-testid="natsmicro-ping-legend-uptime">{percent(uptime(s.points))}</td>
              {calcs.map((c) => (
                <td key={c}>{fmt(stats[c])}</td>
              ))}
            </tr>
          ))}
          {rows.length > shown.length && (
            <tr>
              <td colSpan={4 + calcs.length} className={styles.version}>
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

function getStyles(theme: GrafanaTheme2) {
  const red = theme.visualization.getColorByName('red');
  return {
    wrap: css({ overflowY: 'auto', fontSize: theme.typography.bodySmall.fontSize, flexShrink: 0 }),
    table: css({
      width: '100%',
      borderCollapse: 'collapse',
      color: theme.colors.text.primary,
      'th, td': { padding: '1px 8px', textAlign: 'right', whiteSpace: 'nowrap' },
      // Instance, version, status read left to right; numbers line up on the right.
      'th:nth-child(-n + 3), td:nth-child(-n + 3)': { textAlign: 'left' },
      th: { color: theme.colors.text.secondary, fontWeight: theme.typography.fontWeightMedium },
      'tbody tr': { borderTop: `1px solid ${theme.colors.border.weak}` },
    }),
    nameDown: css({ color: red }),
    version: css({ color: theme.colors.text.secondary }),
    up: css({
      textAlign: 'left',
      fontWeight: theme.typography.fontWeightBold,
      color: theme.visualization.getColorByName('green'),
    }),
    down: css({ fontWeight: theme.typography.fontWeightBold, color: red }),
    swatch: css({
      display: 'inline-block',
      width: 14,
      height: 4,
      marginRight: 6,
      verticalAlign: 'middle',
      borderRadius: 2,
    }),
  };
}
