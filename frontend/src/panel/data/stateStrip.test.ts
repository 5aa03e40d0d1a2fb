//! Tests of the state strip model: segments from state frames and from RTT, merging, clipping, uptime.
import { describe, expect, it } from 'vitest';

import { timeDomain } from './pingModel';
import { stateOfCode, stripSegments, uptime } from './stateStrip';
import { STATES } from '../../common/types';

const range = { from: 0, to: 100 };

describe('stripSegments', () => {
  it('follows state codes, merges equal neighbours and clips to the range', () => {
    const states = [
      { t: -10, rttMs: 0 },
      { t: 20, rttMs: 0 },
      { t: 40, rttMs: 2 },
      { t: 60, rttMs: 3 },
      { t: 80, rttMs: 0 },
    ];
    const segs = stripSegments([], states, range, 0).map((s) => [s.from, s.to, s.state.name]);
    expect(segs).toEqual([
      [0, 40, 'up'],
      [40, 60, 'unresponsive'],
      [60, 80, 'gone'],
      [80, 100, 'up'],
    ]);
  });

  it('without state frames, RTT says up, slow over the threshold, or down', () => {
    const rtt = [
      { t: 0, rttMs: 5 },
      { t: 25, rttMs: 500 },
      { t: 50, rttMs: null },
      { t: 75, rttMs: 4 },
    ];
    expect(stripSegments(rtt, undefined, range, 100).map((s) => s.state.name)).toEqual(['up', 'slow', 'down', 'up']);
    expect(stripSegments(rtt, [], range, 0).map((s) => s.state.name)).toEqual(['up', 'down', 'up']);
  });

  it('knows every state the backend sends, with its colour', () => {
    expect(STATES.map((s) => s.name)).toEqual(['up', 'slow', 'unresponsive', 'gone', 'denied', 'malformed']);
    expect(stateOfCode(4)).toEqual({ name: 'denied', color: 'purple' });
    expect(stateOfCode(9)).toBeUndefined();
    expect(stateOfCode(null)).toBeUndefined();
  });
});

describe('timeDomain', () => {
  it('widens the range to points that arrived after it (live), so the strip has segments', () => {
    const model = {
      series: [
        {
          key: 'a',
          service: 'a',
          id: '',
          name: 'a',
          unit: 'ms',
          points: [
            { t: 150, rttMs: 1 },
            { t: 160, rttMs: 2 },
          ],
        },
      ],
      down: [],
      range,
    };
    expect(stripSegments(model.series[0].points, undefined, range, 0)).toEqual([]);
    const d = timeDomain(model);
    expect(d).toEqual({ from: 0, to: 160 });
    expect(stripSegments(model.series[0].points, undefined, d, 0).map((s) => [s.from, s.to])).toEqual([[150, 161]]);
    // One point at the very end of the range still shows.
    expect(stripSegments([{ t: 100, rttMs: 1 }], undefined, range, 0).map((s) => [s.from, s.to])).toEqual([[100, 101]]);
  });
});

describe('uptime', () => {
  it('is the share of points that answered', () => {
    expect(uptime([])).toBeNull();
    expect(
      uptime([
        { t: 0, rttMs: 1 },
        { t: 1, rttMs: null },
        { t: 2, rttMs: 3 },
        { t: 3, rttMs: 2 },
      ])
    ).toBe(0.75);
  });
});
