//! Arrow IPC frames (as the backend writes them) → Grafana's DataFrameJSON, the shape /api/ds/query returns.
import { tableFromIPC, Type } from 'apache-arrow';

const NS_PER_UNIT = [1000000000n, 1000000n, 1000n, 1n]; // arrow TimeUnit SECOND, MILLISECOND, MICROSECOND, NANOSECOND

function parseJson(text, what) {
  if (text === undefined || text === null || text === '') {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`frame ${what} is not JSON: ${e.message}`);
  }
}

/** Grafana field type and Go SDK `typeInfo.frame` name for an arrow type. */
function describe(type) {
  switch (type.typeId) {
    case Type.Timestamp:
      return { type: 'time', frame: 'time.Time' };
    case Type.Utf8:
    case Type.LargeUtf8:
      return { type: 'string', frame: 'string' };
    case Type.Bool:
      return { type: 'boolean', frame: 'bool' };
    case Type.Float:
      return { type: 'number', frame: type.precision === 2 ? 'float64' : 'float32' };
    case Type.Int:
      return { type: 'number', frame: `${type.isSigned ? '' : 'u'}int${type.bitWidth}` };
    default:
      return { type: 'other', frame: 'json.RawMessage' };
  }
}

/** Timestamps of a vector as BigInt nanoseconds (null where null), read from the raw buffers to keep precision. */
function nanosOf(vector) {
  const perUnit = NS_PER_UNIT[vector.type.unit] ?? 1n;
  const out = [];
  for (const chunk of vector.data) {
    for (let j = 0; j < chunk.length; j++) {
      if (!chunk.getValid(j)) {
        out.push(null);
        continue;
      }
      const raw = chunk.values[chunk.offset + j];
      out.push(BigInt(raw) * perUnit);
    }
  }
  return out;
}

/** Values of one column plus Grafana's side tables: `entities` (NaN/±Inf) and `nanos` (sub-millisecond time). */
function column(vector, kind) {
  const values = [];
  let entities = null;
  let nanos = null;
  if (kind === 'time') {
    nanosOf(vector).forEach((ns, i) => {
      if (ns === null) {
        values.push(null);
        return;
      }
      const ms = ns / 1000000n;
      const rest = Number(ns - ms * 1000000n);
      values.push(Number(ms));
      if (rest !== 0) {
        nanos = nanos ?? new Array(vector.length).fill(0);
        nanos[i] = rest;
      }
    });
    return { values, entities, nanos };
  }
  for (let i = 0; i < vector.length; i++) {
    let v = vector.get(i);
    if (typeof v === 'bigint') {
      v = Number(v);
    }
    if (typeof v === 'number' && !Number.isFinite(v)) {
      const key = Number.isNaN(v) ? 'NaN' : v > 0 ? 'Inf' : 'NegInf';
      entities = entities ?? {};
      (entities[key] = entities[key] ?? []).push(i);
      v = null;
    }
    if (v !== null && typeof v === 'object') {
      v = String(v);
    }
    values.push(v ?? null);
  }
  return { values, entities, nanos };
}

/** Decode one Arrow IPC file (one frame) into DataFrameJSON. */
export function arrowToDataFrameJSON(bytes) {
  const table = tableFromIPC(bytes);
  const md = table.schema.metadata;
  const fields = [];
  const values = [];
  const entities = [];
  const nanos = [];
  table.schema.fields.forEach((f, i) => {
    const { type, frame } = describe(f.type);
    const field = { name: f.metadata.get('name') ?? f.name, type, typeInfo: { frame } };
    if (f.nullable) {
      field.typeInfo.nullable = true;
    }
    const labels = parseJson(f.metadata.get('labels'), `labels of ${field.name}`);
    if (labels && Object.keys(labels).length) {
      field.labels = labels;
    }
    const config = parseJson(f.metadata.get('config'), `config of ${field.name}`);
    if (config) {
      field.config = config;
    }
    fields.push(field);
    const col = column(table.getChildAt(i), type);
    values.push(col.values);
    entities.push(col.entities);
    nanos.push(col.nanos);
  });
  const schema = { name: md.get('name') ?? '', refId: md.get('refId') ?? '', fields };
  const meta = parseJson(md.get('meta'), 'meta');
  if (meta) {
    schema.meta = meta;
  }
  if (!schema.name) {
    delete schema.name;
  }
  const data = { values };
  if (entities.some(Boolean)) {
    data.entities = entities;
  }
  if (nanos.some(Boolean)) {
    data.nanos = nanos;
  }
  return { schema, data };
}

/**
 * One `pluginv2.DataResponse` → the `results[refId]` entry of /api/ds/query:
 * `{status, frames}` or `{status, error}` like Grafana.
 */
export function dataResponseToJSON(response) {
  const status = response.status || (response.error ? 500 : 200);
  const out = { status };
  const frames = (response.frames ?? []).map((b) => arrowToDataFrameJSON(b));
  if (frames.length) {
    out.frames = frames;
  }
  if (response.error) {
    out.error = response.error;
    if (response.errorSource) {
      out.errorSource = response.errorSource;
    }
  }
  return out;
}
