//! Tests of the ping chart geometry: nice ticks, time ticks and one-pass path strings.
import { describe, expect, it } from 'vitest';

import { downPath, linePath, niceStep, scale, timeTicks, valueTicks } from './pingGeometry';

describe('ticks', () => {
  it('niceStep picks 1/2/5 × 10^n', () => {
    expect(niceStep(10, 5)).toBe(2);
    expect(niceStep(7.3, 5)).toBe(2);
    expect(niceStep(0.9, 4)).toBe(0.5);
    expect(niceStep(1300, 6)).toBe(500);
  });

  it('valueTicks start at 0 and reach a nice top at or above the max', () => {
    const v = valueTicks(3.7, 5);
    expect(v.ticks[0]).toBe(0);
    expect(v.top).toBeGreaterThanOrEqual(3.7);
    expect(v.ticks[v.ticks.length - 1]).toBe(v.top);
    expect(valueTicks(0.3, 3).ticks).toEqual([0, 0.1, 0.2, 0.3]);
    expect(valueTicks(0, 4).top).toBe(1);
  });

  it('timeTicks land on round steps in the display zone', () => {
    const from = Date.UTC(2026, 0, 1, 11, 47, 13);
    const to = from + 60 * 60_000;
    const t = timeTicks(from, to, 8);
    expect(t.step).toBe(10 * 60_000);
    expect(t.ticks[0]).toBe(Date.UTC(2026, 0, 1, 11, 50));
    expect(t.format).toBe('HH:mm');
    // A zone at +05:30: ticks fall on round local times.
    const ist = timeTicks(from, to, 8, 330 * 60_000);
    expect((ist.ticks[0] + 330 * 60_000) % (10 * 60_000)).toBe(0);
    expect(timeTicks(from, from + 60_000, 6).format).toBe('HH:mm:ss');
    expect(timeTicks(from, from + 7 * 86_400_000, 6).format).toBe('MM/DD');
  });
});

describe('paths', () => {
  const x = scale(0, 10, 0, 100);
  const y = scale(0, 10, 100, 0);

  it('linePath: one M per run of answers, gaps break the line, lone points become dots', () => {
    const d = linePath(
      [
        { t: 0, rttMs: 0 },
        { t: 1, rttMs: 5 },
        { t: 2, rttMs: null },
        { t: 3, rttMs: 10 },
        { t: 4, rttMs: null },
        { t: 5, rttMs: 1 },
        { t: 6, rttMs: 2 },
      ],
      x,
      y
    );
    expect(d).toBe('M0 100L10 50M30 0h0M50 90L60 80');
  });

  it('downPath spans each silent run to the next answer, at least minWidth wide', () => {
    const d = downPath(
      [
        { t: 0, rttMs: 1 },
        { t: 1, rttMs: null },
        { t: 2, rttMs: null },
        { t: 3, rttMs: 1 },
        { t: 9, rttMs: null },
      ],
      x,
      98
    );
    expect(d).toBe('M10 98H30M88 98H92');
    expect(downPath([{ t: 0, rttMs: 1 }], x, 98)).toBe('');
  });
});
