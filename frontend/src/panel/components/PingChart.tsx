//! SVG chart of the ping panel: one line per instance, gaps where it did not answer, red down marks, axes, threshold.
import {
  dateTimeForTimeZone,
  dateTimeFormat,
  formattedValueToString,
  getValueFormat,
  GrafanaTheme2,
} from '@grafana/data';
import React, { memo, useId, useMemo, useState } from 'react';

import { downPath, linePath, scale, Scale, timeTicks, valueTicks } from '../data/pingGeometry';
import { PingModel, PingPoint, PingSeries, timeDomain } from '../data/pingModel';

export interface PingChartProps {
  model: PingModel;
  width: number;
  height: number;
  /** Colour per series key. */
  colors: Map<string, string>;
  /** Horizontal line at this value; 0 = none. */
  thresholdMs: number;
  timeZone?: string;
  theme: GrafanaTheme2;
}

interface Tick {
  pos: number;
  label: string;
}

interface Shape {
  key: string;
  d: string;
  down: string;
}

interface Layout {
  x: Scale;
  y: Scale;
  left: number;
  right: number;
  top: number;
  bottom: number;
  xTicks: Tick[];
  yTicks: Tick[];
  shapes: Shape[];
  thresholdY: number | null;
  unit: string;
}

const FONT_SIZE = 11;
const CHAR_W = 6.6;

function valueFormatter(unit: string) {
  const fmt = getValueFormat(unit || 'none');
  return (v: number, decimals?: number) => formattedValueToString(fmt(v, decimals));
}

function decimalsFor(step: number): number {
  return Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
}

/** Everything that depends only on data and size: scales, ticks and path strings (one string per series). */
function computeLayout(
  model: PingModel,
  width: number,
  height: number,
  thresholdMs: number,
  timeZone: string | undefined
): Layout {
  let maxV = 0;
  const { from: firstT, to: lastT } = timeDomain(model);
  for (const s of model.series) {
    const pts = s.points;
    for (let i = 0; i < pts.length; i++) {
      const v = pts[i].rttMs;
      if (v !== null && v > maxV) {
        maxV = v;
      }
    }
  }
  if (thresholdMs > 0) {
    maxV = Math.max(maxV, thresholdMs);
  }
  const unit = model.series[0]?.unit ?? 'ms';
  const top = 8;
  const bottom = Math.max(top + 10, height - 20);
  const vt = valueTicks(maxV * 1.05, Math.max(2, Math.floor((bottom - top) / 32)));
  const fmtV = valueFormatter(unit);
  const dec = decimalsFor(vt.step);
  const yLabels = vt.ticks.map((v) => fmtV(v, dec));
  const left = Math.ceil(Math.max(...yLabels.map((l) => l.length)) * CHAR_W) + 10;
  const right = Math.max(left + 10, width - 12);
  const x = scale(firstT, lastT, left, right);
  const y = scale(0, vt.top, bottom, top);

  let offsetMs = 0;
  try {
    offsetMs = dateTimeForTimeZone(timeZone, firstT).utcOffset() * 60_000;
  } catch {
    offsetMs = 0;
  }
  const tt = timeTicks(firstT, lastT, Math.max(2, Math.floor((right - left) / 90)), offsetMs);
  const xTicks = tt.ticks.map((t) => ({
    pos: x.p0 + (t - x.d0) * x.k,
    label: dateTimeFormat(t, { format: tt.format, timeZone }),
  }));
  const yTicks = vt.ticks.map((v, i) => ({ pos: y.p0 + (v - y.d0) * y.k, label: yLabels[i] }));
  const downY = bottom - 2;
  const shapes = model.series.map((s) => ({
    key: s.key,
    d: linePath(s.points, x, y),
    down: downPath(s.points, x, downY),
  }));
  const thresholdY = thresholdMs > 0 ? y.p0 + (thresholdMs - y.d0) * y.k : null;
  return { x, y, left, right, top, bottom, xTicks, yTicks, shapes, thresholdY, unit };
}

interface LinesProps {
  shapes: Shape[];
  colors: Map<string, string>;
  downColor: string;
  fallback: string;
}

/** The series paths; memoised so hovering does not re-render a thousand paths. */
const Lines = memo(function Lines({ shapes, colors, downColor, fallback }: LinesProps) {
  return (
    <>
      <g fill="none" strokeWidth={1.5} strokeLinejoin="round" strokeLinecap="round">
        {shapes.map((s) => (
          <path
            key={s.key}
            d={s.d}
            stroke={colors.get(s.key) ?? fallback}
            data-testid="natsmicro-ping-line"
            data-series={s.key}
          />
        ))}
      </g>
      <g fill="none" stroke={downColor} strokeWidth={4} strokeLinecap="butt">
        {shapes.map((s) =>
          s.down ? <path key={s.key} d={s.down} data-testid="natsmicro-ping-down" data-series={s.key} /> : null
        )}
      </g>
    </>
  );
});

/** Index of the point nearest to time `t` (points sorted by time). */
function nearest(points: PingPoint[], t: number): number {
  let lo = 0;
  let hi = points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid].t < t) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo > 0 && Math.abs(points[lo - 1].t - t) < Math.abs(points[lo].t - t)) {
    return lo - 1;
  }
  return lo;
}

interface HoverRow {
  series: PingSeries;
  value: number | null;
  t: number;
  dist: number;
}

const HOVER_ROWS = 8;

/** Keep the first and last time labels inside the panel. */
function xAnchor(tk: Tick, width: number): 'start' | 'middle' | 'end' {
  const half = (tk.label.length * CHAR_W) / 2;
  if (tk.pos + half > width) {
    return 'end';
  }
  return tk.pos - half < 0 ? 'start' : 'middle';
}

export function PingChart({ model, width, height, colors, thresholdMs, timeZone, theme }: PingChartProps) {
  const clipId = useId().replace(/:/g, '');
  const layout = useMemo(
    () => computeLayout(model, width, height, thresholdMs, timeZone),
    [model, width, height, thresholdMs, timeZone]
  );
  const [hover, setHover] = useState<{ px: number; py: number } | null>(null);
  const text = theme.colors.text.secondary;
  const grid = theme.colors.border.weak;
  const downColor = theme.visualization.getColorByName('red');
  const fmtV = useMemo(() => valueFormatter(layout.unit), [layout.unit]);

  const tooltip = useMemo(() => {
    if (!hover || layout.x.k === 0) {
      return null;
    }
    const t = layout.x.d0 + (hover.px - layout.x.p0) / layout.x.k;
    const rows: HoverRow[] = [];
    for (const s of model.series) {
      if (!s.points.length) {
        continue;
      }
      const p = s.points[nearest(s.points, t)];
      const py = p.rttMs === null ? layout.bottom : layout.y.p0 + (p.rttMs - layout.y.d0) * layout.y.k;
      rows.push({ series: s, value: p.rttMs, t: p.t, dist: Math.abs(py - hover.py) });
    }
    rows.sort((a, b) => a.dist - b.dist);
    return {
      t: rows.length ? rows[0].t : t,
      rows: rows.slice(0, HOVER_ROWS),
      more: Math.max(0, rows.length - HOVER_ROWS),
    };
  }, [hover, layout, model]);

  const onMove = (e: React.MouseEvent<SVGRectElement>) => {
    const box = e.currentTarget.getBoundingClientRect();
    setHover({ px: layout.left + e.clientX - box.left, py: layout.top + e.clientY - box.top });
  };

  return (
    <div style={{ position: 'relative', width, height }}>
      <svg
        width={width}
        height={height}
        style={{ display: 'block' }}
        fontSize={FONT_SIZE}
        fontFamily={theme.typography.fontFamily}
      >
        <defs>
          <clipPath id={clipId}>
            <rect
              x={layout.left}
              y={0}
              width={Math.max(0, layout.right - layout.left + 2)}
              height={layout.bottom + 2}
            />
          </clipPath>
        </defs>
        <g stroke={grid} strokeWidth={1}>
          {layout.yTicks.map((tk) => (
            <line key={`y${tk.pos}`} x1={layout.left} x2={layout.right} y1={tk.pos} y2={tk.pos} />
          ))}
          {layout.xTicks.map((tk) => (
            <line key={`x${tk.pos}`} x1={tk.pos} x2={tk.pos} y1={layout.top} y2={layout.bottom} />
          ))}
        </g>
        <g fill={text} data-testid="natsmicro-ping-yaxis">
          {layout.yTicks.map((tk) => (
            <text key={`y${tk.pos}`} x={layout.left - 6} y={tk.pos} textAnchor="end" dominantBaseline="middle">
              {tk.label}
            </text>
          ))}
        </g>
        <g fill={text} data-testid="natsmicro-ping-xaxis">
          {layout.xTicks.map((tk) => (
            <text key={`x${tk.pos}`} x={tk.pos} y={layout.bottom + 14} textAnchor={xAnchor(tk, width)}>
              {tk.label}
            </text>
          ))}
        </g>
        <g clipPath={`url(#${clipId})`}>
          <Lines shapes={layout.shapes} colors={colors} downColor={downColor} fallback={theme.colors.text.primary} />
        </g>
        {layout.thresholdY !== null && (
          <g data-testid="natsmicro-ping-threshold">
            <line
              x1={layout.left}
              x2={layout.right}
              y1={layout.thresholdY}
              y2={layout.thresholdY}
              stroke={theme.visualization.getColorByName('orange')}
              strokeWidth={1.5}
              strokeDasharray="6 4"
            />
            <text
              x={layout.right - 4}
              y={layout.thresholdY - 4}
              textAnchor="end"
              fill={theme.visualization.getColorByName('orange')}
            >
              {fmtV(thresholdMs)}
            </text>
          </g>
        )}
        {hover && (
          <line x1={hover.px} x2={hover.px} y1={layout.top} y2={layout.bottom} stroke={text} strokeDasharray="2 2" />
        )}
        <rect
          x={layout.left}
          y={layout.top}
          width={Math.max(0, layout.right - layout.left)}
          height={Math.max(0, layout.bottom - layout.top)}
          fill="transparent"
          onMouseMove={onMove}
          onMouseLeave={() => setHover(null)}
        />
      </svg>
      {hover && tooltip && tooltip.rows.length > 0 && (
        <div
          data-testid="natsmicro-ping-tooltip"
          style={{
            position: 'absolute',
            pointerEvents: 'none',
            top: Math.min(hover.py + 12, Math.max(0, height - 40)),
            ...(hover.px > width / 2 ? { right: width - hover.px + 12 } : { left: hover.px + 12 }),
            background: theme.colors.background.primary,
            border: `1px solid ${theme.colors.border.medium}`,
            borderRadius: theme.shape.radius.default,
            boxShadow: theme.shadows.z2,
            padding: theme.spacing(0.5, 1),
            fontSize: theme.typography.bodySmall.fontSize,
            color: theme.colors.text.primary,
            whiteSpace: 'nowrap',
            zIndex: 1,
          }}
        >
          <div style={{ color: theme.colors.text.secondary }}>
            {dateTimeFormat(tooltip.t, { format: 'YYYY-MM-DD HH:mm:ss', timeZone })}
          </div>
          {tooltip.rows.map((r) => (
            <div key={r.series.key}>
              <span style={{ color: colors.get(r.series.key) }}>● </span>
              {r.series.name}: {r.value === null ? <span style={{ color: downColor }}>no answer</span> : fmtV(r.value)}
            </div>
          ))}
          {tooltip.more > 0 && <div style={{ color: theme.colors.text.secondary }}>+{tooltip.more} more</div>}
        </div>
      )}
    </div>
  );
}
