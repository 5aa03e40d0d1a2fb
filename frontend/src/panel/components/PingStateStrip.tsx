//! State strip of the ping panel: one thin row per instance, coloured by its liveness over the time range (the five states when the panel has a `state` query, else up / slow / down from the RTT).
import { css } from '@emotion/css';
import { GrafanaTheme2 } from '@grafana/data';
import { useStyles2, useTheme2 } from '@grafana/ui';
import { useMemo } from 'react';

import { PingModel, timeDomain } from '../data/pingModel';
import { stripSegments } from '../data/stateStrip';

export interface PingStateStripProps {
  model: PingModel;
  /** Points of `state` series by series key (values are state codes). */
  states: Map<string, PingModel['series'][number]['points']>;
  width: number;
  thresholdMs: number;
}

/** Rows drawn at most; the legend lists every instance. */
export const STRIP_MAX_ROWS = 20;
export const STRIP_ROW_HEIGHT = 8;
const LABEL_WIDTH = 120;

export function PingStateStrip({ model, states, width, thresholdMs }: PingStateStripProps) {
  const theme = useTheme2();
  const styles = useStyles2(getStyles);
  // The chart's time axis: the range widened to the points (live points arrive after its end).
  const domain = useMemo(() => timeDomain(model), [model]);
  const span = Math.max(1, domain.to - domain.from);
  const barWidth = Math.max(10, width - LABEL_WIDTH - 8);
  const rows = useMemo(
    () =>
      model.series.slice(0, STRIP_MAX_ROWS).map((s) => ({
        series: s,
        segments: stripSegments(s.points, states.get(s.key), domain, thresholdMs),
      })),
    [model, states, thresholdMs, domain]
  );
  return (
    <div data-testid="natsmicro-ping-strip" className={styles.wrap}>
      {rows.map(({ series, segments }) => (
        <div key={series.key} className={styles.row} data-series={series.key}>
          <span className={styles.label} title={series.key}>
            {series.name}
          </span>
          <span className={styles.bar} style={{ width: barWidth }}>
            {segments.map((seg) => (
              <span
                key={seg.from}
                data-testid="natsmicro-ping-strip-segment"
                data-state={seg.state.name}
                title={`${seg.state.name} from ${new Date(seg.from).toISOString()}`}
                className={styles.segment}
                style={{
                  left: ((seg.from - domain.from) / span) * barWidth,
                  width: Math.max(1, ((seg.to - seg.from) / span) * barWidth),
                  background: theme.visualization.getColorByName(seg.state.color),
                }}
              />
            ))}
          </span>
        </div>
      ))}
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  wrap: css({ padding: theme.spacing(0.25, 0.5), flexShrink: 0 }),
  row: css({ display: 'flex', alignItems: 'center', height: STRIP_ROW_HEIGHT + 2 }),
  label: css({
    width: LABEL_WIDTH,
    fontSize: 10,
    color: theme.colors.text.secondary,
    overflow: 'hidden',
    textOverflow: 'ellipsis',
    whiteSpace: 'nowrap',
  }),
  bar: css({
    position: 'relative',
    height: STRIP_ROW_HEIGHT,
    background: theme.colors.background.secondary,
    borderRadius: 2,
    overflow: 'hidden',
  }),
  segment: css({ position: 'absolute', top: 0, bottom: 0 }),
});
