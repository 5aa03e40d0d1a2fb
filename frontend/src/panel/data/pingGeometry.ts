//! Chart geometry for the ping panel: nice value ticks, time ticks, and SVG path strings built in one pass (pure).
import { PingPoint } from './pingModel';

/** Linear map from data to pixels. */
export interface Scale {
  /** Data value at pixel `p0`. */
  d0: number;
  p0: number;
  /** Pixels per data unit (negative for a y axis growing upwards). */
  k: number;
}

export function scale(d0: number, d1: number, p0: number, p1: number): Scale {
  const span = d1 - d0;
  return { d0, p0, k: span === 0 ? 0 : (p1 - p0) / span };
}

/**
 * Whole pixels: integers convert to strings about twice as fast as decimals and keep path strings short
 * (1 000 series × 240 points is ≈ 2 MB of path text); a 1.5 px antialiased line hides the rounding.
 */
function px(v: number): number {
  return Math.round(v);
}

/** 1, 2 or 5 × 10^n: the smallest such step giving at most `maxTicks` intervals over `span`. */
export function niceStep(span: number, maxTicks: number): number {
  if (!(span > 0) || !(maxTicks >= 1)) {
    return 1;
  }
  const raw = span / maxTicks;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) {
    if (m * mag >= raw) {
      return m * mag;
    }
  }
  return 10 * mag;
}

/** Value axis from 0: a nice top at or above `max` and its ticks. */
export function valueTicks(max: number, maxTicks: number): { top: number; step: number; ticks: number[] } {
  const m = max > 0 && Number.isFinite(max) ? max : 1;
  const step = niceStep(m, Math.max(1, maxTicks));
  const top = Math.ceil(m / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let i = 0; i * step <= top + step * 1e-9; i++) {
    // Avoid 0.30000000000000004.
    ticks.push(Number((i * step).toPrecision(12)));
  }
  return { top, step, ticks };
}

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const TIME_STEPS = [
  SEC,
  2 * SEC,
  5 * SEC,
  10 * SEC,
  15 * SEC,
  30 * SEC,
  MIN,
  2 * MIN,
  5 * MIN,
  10 * MIN,
  15 * MIN,
  30 * MIN,
  HOUR,
  2 * HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
  7 * DAY,
  30 * DAY,
];

/**
 * Time ticks over [from, to]: at most `maxTicks`, on round steps in the display time zone
 * (`offsetMs` = zone offset from UTC), with the date format that suits the step.
 */
export function timeTicks(
  from: number,
  to: number,
  maxTicks: number,
  offsetMs = 0
): { step: number; ticks: number[]; format: string } {
  const span = Math.max(1, to - from);
  const step = TIME_STEPS.find((s) => span / s <= Math.max(1, maxTicks)) ?? TIME_STEPS[TIME_STEPS.length - 1];
  const ticks: number[] = [];
  for (let t = Math.ceil((from + offsetMs) / step) * step - offsetMs; t <= to; t += step) {
    ticks.push(t);
  }
  let format: string;
  if (step < MIN) {
    format = 'HH:mm:ss';
  } else if (step >= DAY) {
    format = 'MM/DD';
  } else if (span > DAY) {
    format = 'MM/DD HH:mm';
  } else {
    format = 'HH:mm';
  }
  return { step, ticks, format };
}

/**
 * The `d` of one line: `M`/`L` through answered points, a new `M` after each unanswered one (a gap).
 * A lone answered point between gaps gets a zero-length segment so a round line cap shows it as a dot.
 */
export function linePath(points: PingPoint[], x: Scale, y: Scale): string {
  let d = '';
  let run = 0;
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    if (p.rttMs === null) {
      if (run === 1) {
        d += 'h0';
      }
      run = 0;
      continue;
    }
    const X = px(x.p0 + (p.t - x.d0) * x.k);
    const Y = px(y.p0 + (p.rttMs - y.d0) * y.k);
    d += (run === 0 ? 'M' : 'L') + X + ' ' + Y;
    run++;
  }
  if (run === 1) {
    d += 'h0';
  }
  return d;
}

/**
 * The `d` of an instance's down periods, drawn as horizontal segments at height `yPx`: each run of unanswered
 * points spans from its first point to the next answer (or its own last point), at least `minWidth` pixels.
 * Empty when the instance never failed to answer.
 */
export function downPath(points: PingPoint[], x: Scale, yPx: number, minWidth = 4): string {
  let d = '';
  let i = 0;
  const n = points.length;
  while (i < n) {
    if (points[i].rttMs !== null) {
      i++;
      continue;
    }
    const start = points[i].t;
    let j = i;
    while (j + 1 < n && points[j + 1].rttMs === null) {
      j++;
    }
    const end = j + 1 < n ? points[j + 1].t : points[j].t;
    let x1 = x.p0 + (start - x.d0) * x.k;
    let x2 = x.p0 + (end - x.d0) * x.k;
    if (x2 - x1 < minWidth) {
      const mid = (x1 + x2) / 2;
      x1 = mid - minWidth / 2;
      x2 = mid + minWidth / 2;
    }
    d += 'M' + px(x1) + ' ' + yPx + 'H' + px(x2);
    i = j + 1;
  }
  return d;
}
