//! State strip of the ping panel (pure): an instance's points as coloured segments over the time range, from `state` frames when the panel has them, else from its RTT (answered / over the threshold / silent).
import { PingPoint, PingRange } from './pingModel';
import { LivenessState, STATES } from '../../common/types';

/** What a segment shows: a liveness state, or `down` when only the RTT is known (silent, reason unknown). */
export interface StripState {
  name: LivenessState['name'] | 'down';
  color: string;
}

/** One stretch of time in one state. */
export interface StripSegment {
  from: number;
  to: number;
  state: StripState;
}

const DOWN: StripState = { name: 'down', color: 'red' };

/** The state of a `state` value (a code 0–5); undefined for anything else. */
export function stateOfCode(code: number | null): StripState | undefined {
  const s = STATES.find((x) => x.code === code);
  return s ? { name: s.name, color: s.color } : undefined;
}

function byName(name: LivenessState['name']): StripState {
  return stateOfCode(STATES.find((s) => s.name === name)?.code ?? -1) ?? DOWN;
}

/** The state an RTT point shows: up, slow (over `thresholdMs` when set), or down (silent). */
export function stateOfRtt(rttMs: number | null, thresholdMs: number): StripState {
  if (rttMs === null) {
    return DOWN;
  }
  return thresholdMs > 0 && rttMs > thresholdMs ? byName('slow') : byName('up');
}

/**
 * Segments of one instance within `range`: each point's state holds until the next point (the
 * last one until the end of the range). `statePoints` (values are state codes) win where given;
 * otherwise the RTT points decide. Neighbouring segments of the same state are merged.
 */
export function stripSegments(
  rttPoints: PingPoint[],
  statePoints: PingPoint[] | undefined,
  range: PingRange,
  thresholdMs: number
): StripSegment[] {
  const source: Array<{ t: number; state: StripState }> =
    statePoints && statePoints.length > 0
      ? statePoints.flatMap((p) => {
          const s = stateOfCode(p.rttMs);
          return s ? [{ t: p.t, state: s }] : [];
        })
      : rttPoints.map((p) => ({ t: p.t, state: stateOfRtt(p.rttMs, thresholdMs) }));
  const out: StripSegment[] = [];
  for (let i = 0; i < source.length; i++) {
    const last = i + 1 === source.length;
    const from = Math.max(source[i].t, range.from);
    // The latest point holds to the end of the range; at the very end it still shows (1 ms, drawn ≥ 1 px).
    let to = Math.min(last ? range.to : source[i + 1].t, range.to);
    if (last && to <= from && source[i].t <= range.to) {
      to = from + 1;
    }
    if (to <= from) {
      continue;
    }
    const prev = out[out.length - 1];
    if (prev && prev.state.name === source[i].state.name && prev.to === from) {
      prev.to = to;
    } else {
      out.push({ from, to, state: source[i].state });
    }
  }
  return out;
}

/** Share of points that answered (0–1), or null without points: the legend's uptime. */
export function uptime(points: PingPoint[]): number | null {
  if (points.length === 0) {
    return null;
  }
  return points.filter((p) => p.rttMs !== null).length / points.length;
}
