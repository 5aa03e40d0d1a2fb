//! Ping data model: turns the DataFrames of NATS Micro `ping` queries into per-instance RTT series (pure, no I/O).
import { DataFrame, Field, FieldType } from '@grafana/data';

/** One sample: time (ms epoch) and round-trip time (or the field's value, e.g. `up`); null = did not answer. */
export interface PingPoint {
  t: number;
  rttMs: number | null;
}

/** One instance's line. */
export interface PingSeries {
  /** `service/id` — stable identity, also `data-series` in the chart. */
  key: string;
  service: string;
  id: string;
  version?: string;
  /** What the legend shows: `service/…idTail`. */
  name: string;
  /** Unit of the values (`ms` for rtt). */
  unit: string;
  /** Sorted by time, oldest first. */
  points: PingPoint[];
}

export interface PingRange {
  from: number;
  to: number;
}

export interface PingModel {
  /** Sorted by key. */
  series: PingSeries[];
  /** Keys of series whose last point is down (null). */
  down: string[];
  range: PingRange;
}

export interface PingStats {
  last: number | null;
  mean: number | null;
  max: number | null;
  min: number | null;
  /** Points with a value. */
  count: number;
  /** Points without a value (did not answer). */
  downCount: number;
  /** The last point has a value. */
  up: boolean;
}

/** The time span a model is drawn over: its range, widened to its first and last points (live points arrive after `to`). */
export function timeDomain(model: PingModel): PingRange {
  let from = model.range.from;
  let to = model.range.to;
  for (const s of model.series) {
    if (s.points.length) {
      from = Math.min(from, s.points[0].t);
      to = Math.max(to, s.points[s.points.length - 1].t);
    }
  }
  return { from, to };
}

/** Default cap of points kept per series. */
export const DEFAULT_MAX_POINTS = 1000;

/** What one update brings: the frames of a PanelData and when they arrived. */
export interface PingUpdate {
  series: DataFrame[];
  /** The visible time range; points older than `from` are dropped. */
  range: PingRange;
  /** Arrival time of a snapshot (ms epoch): the time given to numeric-long rows. */
  now: number;
  /** `data.request.requestId`: a snapshot re-delivered under the same id is not added twice. */
  requestId?: string;
}

/** Last characters of an instance id: NUIDs of one process share their prefix, so the tail tells them apart. */
export function shortId(id: string): string {
  return id.length > 10 ? '…' + id.slice(-8) : id;
}

export function seriesKey(service: string, id: string): string {
  return `${service}/${id}`;
}

function valueOf(v: unknown, isUp: boolean): number | null {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    return null;
  }
  // `up` fields: 0 means down.
  return isUp && v === 0 ? null : v;
}

function timeOf(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) {
    return v;
  }
  if (v instanceof Date) {
    return v.getTime();
  }
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isFinite(t) ? t : null;
  }
  return null;
}

function isUpField(f: Field): boolean {
  return f.name === 'up';
}

function unitOf(f: Field): string {
  return f.config?.unit ?? (isUpField(f) ? 'none' : 'ms');
}

/** The value field of a long (row per instance) frame: `rtt` first, then `up`, then any number field. */
function valueField(frame: DataFrame): Field | undefined {
  const nums = frame.fields.filter((f) => f.type === FieldType.number);
  return nums.find((f) => f.name === 'rtt') ?? nums.find((f) => f.name === 'up') ?? nums[0];
}

function stringAt(frame: DataFrame, name: string, i: number): string | undefined {
  const f = frame.fields.find((x) => x.name === name && x.type === FieldType.string);
  const v = f?.values[i];
  return typeof v === 'string' ? v : undefined;
}

/** Identity of a number field of a time-series frame: labels `service`/`id`, else the field's or frame's name. */
function fieldIdentity(frame: DataFrame, f: Field): { service: string; id: string; version?: string } {
  const l = f.labels ?? {};
  if (l.service !== undefined || l.id !== undefined) {
    return { service: l.service ?? '', id: l.id ?? l.instance ?? '', version: l.version };
  }
  const display = f.config?.displayNameFromDS ?? f.config?.displayName;
  if (display) {
    return { service: display, id: '' };
  }
  const extra = Object.entries(l)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return { service: frame.name && frame.name !== f.name ? frame.name : f.name, id: extra };
}

function makeSeries(service: string, id: string, version: string | undefined, unit: string): PingSeries {
  const key = seriesKey(service, id);
  return {
    key,
    service,
    id,
    version: version || undefined,
    name: id ? `${service}/${shortId(id)}` : service,
    unit,
    points: [],
  };
}

/** Statistics for the legend, ignoring points without a value. */
export function pingStats(points: PingPoint[]): PingStats {
  let sum = 0;
  let count = 0;
  let max: number | null = null;
  let min: number | null = null;
  let last: number | null = null;
  for (let i = 0; i < points.length; i++) {
    const v = points[i].rttMs;
    if (v === null) {
      continue;
    }
    sum += v;
    count++;
    last = v;
    if (max === null || v > max) {
      max = v;
    }
    if (min === null || v < min) {
      min = v;
    }
  }
  const lastPoint = points[points.length - 1];
  return {
    last,
    mean: count ? sum / count : null,
    max,
    min,
    count,
    downCount: points.length - count,
    up: lastPoint !== undefined && lastPoint.rttMs !== null,
  };
}

/** Drop points older than `from` and keep at most `cap` newest, in place. */
function trim(points: PingPoint[], from: number, cap: number): PingPoint[] {
  let start = 0;
  while (start < points.length && points[start].t < from) {
    start++;
  }
  start = Math.max(start, points.length - cap);
  if (start > 0) {
    points.splice(0, start);
  }
  return points;
}

/** Incremental reader state of one number field of a time-series frame (streaming frames grow in place). */
interface FieldCursor {
  times: unknown[];
  values: unknown[];
  firstT: unknown;
  read: number;
  points: PingPoint[];
}

/** Frames with a time field carry their own history (timeseries-multi/-wide/-long, streaming). */
function isTimeSeriesFrame(frame: DataFrame): boolean {
  return frame.fields.some((f) => f.type === FieldType.time);
}

/**
 * Accumulates ping data across panel refreshes.
 *
 * - Time-series frames (timeseries-multi, wide, streaming) carry their own history: they are read as they are,
 *   and a frame that grew (Grafana Live) is read from where the previous update stopped.
 * - Numeric-long snapshots (one row per instance, no time field) are appended, one point per row, at the
 *   update's `now`; the same snapshot delivered twice (same frame object or same request id) adds nothing.
 * - Memory is bounded: at most `maxPoints` per series (oldest dropped) and nothing older than the range.
 */
export class PingHistory {
  private maxPoints: number;
  /** Accumulated snapshot series by key. */
  private snapshots = new Map<string, PingSeries>();
  private seenFrames = new WeakSet<DataFrame>();
  private seenRequests: string[] = [];
  /** Cursors of time-series fields, by field object. */
  private cursors = new WeakMap<Field, FieldCursor>();
  private lastModel: PingModel | undefined;
  private lastSeries: DataFrame[] | undefined;
  private lastShape = '';

  constructor(maxPoints: number = DEFAULT_MAX_POINTS) {
    this.maxPoints = sanitizeCap(maxPoints);
  }

  setMaxPoints(maxPoints: number): void {
    this.maxPoints = sanitizeCap(maxPoints);
  }

  /** Forget everything (the query changed). */
  reset(): void {
    this.snapshots.clear();
    this.seenFrames = new WeakSet();
    this.seenRequests = [];
    this.cursors = new WeakMap();
    this.lastModel = undefined;
    this.lastSeries = undefined;
    this.lastShape = '';
  }

  /** Number of points held for snapshot series (for tests and diagnostics). */
  get snapshotPointCount(): number {
    let n = 0;
    for (const s of this.snapshots.values()) {
      n += s.points.length;
    }
    return n;
  }

  /** Take one update and return the model to draw. Calling it again with the same data returns the same model. */
  update(u: PingUpdate): PingModel {
    const shape = `${u.range.from}|${u.range.to}|${this.maxPoints}|` + u.series.map(frameShape).join(',');
    if (this.lastModel && this.lastSeries === u.series && this.lastShape === shape) {
      return this.lastModel;
    }
    const timeSeries = new Map<string, PingSeries>();
    let snapshotTaken = false;
    const fresh = !(u.requestId !== undefined && this.seenRequests.includes(u.requestId));
    for (const frame of u.series) {
      if (isTimeSeriesFrame(frame)) {
        this.readTimeSeries(frame, timeSeries, u.range.from);
      } else if (fresh && !this.seenFrames.has(frame)) {
        this.seenFrames.add(frame);
        snapshotTaken = this.readSnapshot(frame, u.now) || snapshotTaken;
      }
    }
    if (snapshotTaken && u.requestId !== undefined) {
      this.seenRequests.push(u.requestId);
      if (this.seenRequests.length > 64) {
        this.seenRequests.shift();
      }
    }
    // Age out accumulated snapshot points; forget series with nothing left.
    for (const [key, s] of this.snapshots) {
      trim(s.points, u.range.from, this.maxPoints);
      if (s.points.length === 0) {
        this.snapshots.delete(key);
      }
    }
    const all = new Map<string, PingSeries>(timeSeries);
    for (const [key, s] of this.snapshots) {
      const ts = all.get(key);
      if (ts) {
        all.set(key, { ...ts, points: mergePoints(ts.points, s.points, this.maxPoints) });
      } else {
        // A copy of the array so memoised consumers see a change.
        all.set(key, { ...s, points: s.points.slice() });
      }
    }
    const series = [...all.values()].filter((s) => s.points.length > 0).sort((a, b) => cmp(a.key, b.key));
    const down = series.filter((s) => s.points[s.points.length - 1].rttMs === null).map((s) => s.key);
    this.lastModel = { series, down, range: u.range };
    this.lastSeries = u.series;
    this.lastShape = shape;
    return this.lastModel;
  }

  /** Append one point per row of a numeric-long snapshot. Returns whether any row was read. */
  private readSnapshot(frame: DataFrame, now: number): boolean {
    const vf = valueField(frame);
    if (!vf) {
      return false;
    }
    const up = isUpField(vf);
    const unit = unitOf(vf);
    let any = false;
    for (let i = 0; i < frame.length; i++) {
      const service = stringAt(frame, 'service', i) ?? frame.name ?? '';
      const id = stringAt(frame, 'id', i) ?? '';
      const version = stringAt(frame, 'version', i);
      const key = seriesKey(service, id);
      let s = this.snapshots.get(key);
      if (!s) {
        s = makeSeries(service, id, version, unit);
        this.snapshots.set(key, s);
      } else if (version) {
        s.version = version;
      }
      const p: PingPoint = { t: now, rttMs: valueOf(vf.values[i], up) };
      const last = s.points[s.points.length - 1];
      if (last && last.t === p.t) {
        // Same instant (another query of the same instance): keep one point, preferring an answer.
        if (p.rttMs !== null) {
          s.points[s.points.length - 1] = p;
        }
      } else if (!last || last.t < p.t) {
        s.points.push(p);
      }
      any = true;
    }
    return any;
  }

  /** Read every number field of a frame with a time field (multi, wide, long, streaming). */
  private readTimeSeries(frame: DataFrame, out: Map<string, PingSeries>, from: number): void {
    const time = frame.fields.find((f) => f.type === FieldType.time);
    if (!time) {
      return;
    }
    const hasDims = frame.fields.some((f) => f.type === FieldType.string && (f.name === 'service' || f.name === 'id'));
    for (const f of frame.fields) {
      if (f.type !== FieldType.number) {
        continue;
      }
      if (hasDims) {
        this.readLong(frame, time, f, out, from);
        continue;
      }
      const ident = fieldIdentity(frame, f);
      const points = this.readField(time, f, from);
      addSeries(out, ident, unitOf(f), points, this.maxPoints);
    }
  }

  /** A time field + number field, read incrementally when the same arrays only grew. */
  private readField(time: Field, f: Field, from: number): PingPoint[] {
    const times = time.values as unknown[];
    const values = f.values as unknown[];
    const n = Math.min(times.length, values.length);
    let c = this.cursors.get(f);
    if (!c || c.times !== times || c.values !== values || c.firstT !== times[0] || n < c.read) {
      c = { times, values, firstT: times[0], read: 0, points: [] };
      this.cursors.set(f, c);
    }
    const up = isUpField(f);
    let lastT = c.points.length ? c.points[c.points.length - 1].t : -Infinity;
    let sorted = true;
    for (let i = c.read; i < n; i++) {
      const t = timeOf(times[i]);
      if (t === null || t < from) {
        continue;
      }
      if (t < lastT) {
        sorted = false;
      }
      c.points.push({ t, rttMs: valueOf(values[i], up) });
      lastT = t;
    }
    c.read = n;
    if (!sorted) {
      c.points.sort((a, b) => a.t - b.t);
    }
    trim(c.points, from, this.maxPoints);
    return c.points.slice();
  }

  /** A time-series frame in long form: time + `service`/`id` string columns + values. */
  private readLong(frame: DataFrame, time: Field, f: Field, out: Map<string, PingSeries>, from: number): void {
    const up = isUpField(f);
    const groups = new Map<string, { ident: { service: string; id: string; version?: string }; points: PingPoint[] }>();
    for (let i = 0; i < frame.length; i++) {
      const t = timeOf(time.values[i]);
      if (t === null || t < from) {
        continue;
      }
      const service = stringAt(frame, 'service', i) ?? '';
      const id = stringAt(frame, 'id', i) ?? '';
      const key = seriesKey(service, id);
      let g = groups.get(key);
      if (!g) {
        g = { ident: { service, id, version: stringAt(frame, 'version', i) }, points: [] };
        groups.set(key, g);
      }
      g.points.push({ t, rttMs: valueOf(f.values[i], up) });
    }
    for (const g of groups.values()) {
      g.points.sort((a, b) => a.t - b.t);
      addSeries(out, g.ident, unitOf(f), trim(g.points, from, this.maxPoints), this.maxPoints);
    }
  }
}

function sanitizeCap(n: number): number {
  return Number.isFinite(n) && n >= 1 ? Math.floor(n) : DEFAULT_MAX_POINTS;
}

/** What changes when a frame grows or a full ring buffer shifts: length, first and last time. */
function frameShape(f: DataFrame): string {
  const time = f.fields.find((x) => x.type === FieldType.time);
  const n = f.fields.length ? f.fields[0].values.length : f.length;
  return time ? `${n}:${String(time.values[0])}:${String(time.values[time.values.length - 1])}` : String(n);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function addSeries(
  out: Map<string, PingSeries>,
  ident: { service: string; id: string; version?: string },
  unit: string,
  points: PingPoint[],
  cap: number
): void {
  const key = seriesKey(ident.service, ident.id);
  const prev = out.get(key);
  if (prev) {
    // Same instance in two frames (e.g. a version label changed): one line.
    prev.points = mergePoints(prev.points, points, cap);
    prev.version = ident.version ?? prev.version;
    return;
  }
  const s = makeSeries(ident.service, ident.id, ident.version, unit);
  s.points = points;
  out.set(key, s);
}

/** Merge two time-sorted point lists (one point per time, preferring an answer), newest `cap` kept. */
export function mergePoints(a: PingPoint[], b: PingPoint[], cap: number): PingPoint[] {
  const out: PingPoint[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let p: PingPoint;
    if (j >= b.length || (i < a.length && a[i].t < b[j].t)) {
      p = a[i++];
    } else if (i >= a.length || b[j].t < a[i].t) {
      p = b[j++];
    } else {
      p = a[i].rttMs !== null ? a[i] : b[j];
      i++;
      j++;
    }
    out.push(p);
  }
  return out.length > cap ? out.slice(out.length - cap) : out;
}
