//! Pure query-model helpers: defaults, normalisation of stored/legacy queries, and what each choice returns.
import {
  AGGREGATES,
  AGGREGATE_QUERY_TYPES,
  DATA_PREFIX,
  DATA_QUERY_TYPES,
  DATA_TABLE_METRIC,
  FORMATS,
  Format,
  LIVE_QUERY_TYPES,
  MAX_DATA_PATH_LENGTH,
  METRICS,
  NatsMicroQuery,
  QUERY_TYPES,
  QueryType,
  SLO_DEFAULTS,
  TIMESERIES_METRICS,
} from '../../common/types';

/** The query a new panel starts with (also `DataSource.getDefaultQuery`). */
export const DEFAULT_QUERY: Partial<NatsMicroQuery> = { queryType: 'ping', format: 'instant' };

export function isQueryType(v: unknown): v is QueryType {
  return typeof v === 'string' && (QUERY_TYPES as string[]).includes(v);
}

/** Which filters a query type uses (Rust `src/model/query.rs`/`src/model/shapes.rs`): services ignore instance, only info/stats filter endpoints. */
export function usesInstance(t: QueryType): boolean {
  return t === 'ping' || t === 'info' || t === 'stats' || t === 'events';
}
export function usesEndpoint(t: QueryType): boolean {
  return t === 'info' || t === 'stats';
}
export function usesService(t: QueryType): boolean {
  return t !== 'request' && t !== 'probe';
}

/**
 * Complete a query so it is valid on its own (alert rules run without this frontend):
 * queryType and format always written, format one the type answers, metric one the type has (instant only),
 * filters the type ignores cleared, request fields kept only for request queries.
 */
export function normalizeQuery(q: NatsMicroQuery): NatsMicroQuery {
  const queryType: QueryType = isQueryType(q.queryType) ? q.queryType : 'ping';
  const formats = FORMATS[queryType];
  const format: Format = q.format && formats.includes(q.format) ? q.format : formats[0];
  const out: NatsMicroQuery = { ...q, queryType, format };
  const metrics = metricsFor(queryType, format);
  if (isDataMetric(queryType, format, q.metric)) {
    out.metric = q.metric;
  } else if (metrics.length > 0) {
    out.metric = q.metric && metrics.includes(q.metric) ? q.metric : metrics[0];
  } else {
    delete out.metric;
  }
  if (!usesService(queryType)) {
    delete out.service;
  }
  if (!usesInstance(queryType)) {
    delete out.instance;
  }
  if (!usesEndpoint(queryType)) {
    delete out.endpoint;
  }
  if (queryType !== 'probe' || !out.probe) {
    delete out.probe;
  }
  if (queryType !== 'slo') {
    delete out.objective;
    delete out.minInstances;
  }
  if (queryType !== 'request') {
    delete out.subject;
    delete out.payload;
    delete out.headers;
  }
  if (!canAggregate(out) || !out.aggregate || !AGGREGATES.includes(out.aggregate) || out.aggregate === 'none') {
    delete out.aggregate;
  }
  if (!canStream(out)) {
    delete out.live;
  }
  return out;
}

/** Whether `aggregate` applies: a ping or stats query in format instant or timeseries. */
export function canAggregate(q: NatsMicroQuery): boolean {
  return q.queryType !== undefined && AGGREGATE_QUERY_TYPES.includes(q.queryType) && q.format !== 'table';
}

/** A valid dot path of custom STATS data: non-empty tokens without spaces (Rust `leaves::valid_path`). */
export function validDataPath(path: string): boolean {
  return (
    path.length > 0 &&
    path.length <= MAX_DATA_PATH_LENGTH &&
    path.split('.').every((t) => t.length > 0 && !/\s/.test(t))
  );
}

/**
 * Whether `metric` reads custom STATS data: `data:<path>` (one leaf, instant or timeseries; in a
 * table, the leaves under that path) or `data` (a table of every leaf).
 */
export function isDataMetric(t: QueryType, format: Format | undefined, metric: string | undefined): metric is string {
  if (!DATA_QUERY_TYPES.includes(t) || metric === undefined) {
    return false;
  }
  if (metric === DATA_TABLE_METRIC) {
    return format === 'table';
  }
  return metric.startsWith(DATA_PREFIX) && validDataPath(metric.slice(DATA_PREFIX.length));
}

/** Values of `metric` for a query type and format (none for tables). */
export function metricsFor(t: QueryType, format: Format | undefined): string[] {
  if (format === 'timeseries') {
    return TIMESERIES_METRICS[t];
  }
  return format === 'instant' ? METRICS[t] : [];
}

/** Whether this query can stream through Grafana Live (a dashboard `timeseries` of a live query type). */
export function canStream(q: NatsMicroQuery): boolean {
  return (
    q.format === 'timeseries' &&
    q.queryType !== undefined &&
    LIVE_QUERY_TYPES.includes(q.queryType) &&
    (q.aggregate ?? 'none') === 'none' &&
    !isDataMetric(q.queryType, q.format, q.metric)
  );
}

/** Whether a query can be sent: not hidden, and a request query has a subject. */
export function isRunnable(q: NatsMicroQuery): boolean {
  if (q.hide) {
    return false;
  }
  if (q.queryType === 'request') {
    return typeof q.subject === 'string' && q.subject.trim() !== '';
  }
  return true;
}

const TYPE_HINTS: Record<QueryType, string> = {
  ping: 'Every instance that answers $SRV.PING, with its round-trip time',
  services: 'One row per service name: instances answering, versions seen',
  info: 'Instances and their endpoints: name, id, version, description, metadata, subject, queue group',
  stats: 'Per endpoint of each instance: requests, errors, processing time',
  request: 'One request/reply to an allowed subject; a JSON reply becomes columns',
  slo: 'Per service, from the sampled history: uptime (rounds with enough instances up), reachability (pings answered / expected), error budget left',
  events: 'Events the history sampler saw: instances appeared, down, restarted, version changed (annotations)',
  probe: "Results of the data source's probes (synthetic requests): latency, success, state",
};

const FORMAT_HINTS: Record<Format, string> = {
  instant: 'one numeric value per row, labelled by service, id, version (alertable)',
  table: 'a table',
  timeseries:
    'one series per instance, service or endpoint over time, from the history sampler (alertable with Reduce)',
};

/** One line telling what the query returns. */
export function describeQuery(q: NatsMicroQuery): string {
  const n = normalizeQuery(q);
  const t = n.queryType as QueryType;
  if (t === 'slo') {
    const minutes = SLO_DEFAULTS.rollingWindowMs / 60000;
    const shape =
      n.format === 'timeseries'
        ? `one series per service, each point over the ${minutes} minutes before it`
        : 'one numeric value per service over the time range';
    return `${TYPE_HINTS[t]}; as ${shape} (alertable) — value: ${n.metric}.`;
  }
  if (t === 'probe') {
    const shape = {
      instant: 'one numeric value per probe, run now, labelled by probe and subject (alertable)',
      timeseries: "one series per probe from the sampler's runs (alertable)",
      table: 'a table: latency, success, state, service-error code and why it failed',
    }[n.format as Format];
    return `${TYPE_HINTS[t]}; as ${shape}${n.metric && n.format !== 'table' ? ` — value: ${n.metric}` : ''}.`;
  }
  if (n.aggregate) {
    const per = t === 'stats' ? 'service and endpoint' : 'service';
    const shape = n.format === 'timeseries' ? 'one series' : 'one numeric value';
    return `${TYPE_HINTS[t]}; instances combined: ${shape} per ${per} (alertable) — value: ${n.aggregate} of ${n.metric}.`;
  }
  const metric = n.metric ? ` — value: ${n.metric}` : '';
  return `${TYPE_HINTS[t]}; as ${FORMAT_HINTS[n.format as Format]}${metric}.`;
}

/** Headers as editable rows (order kept) and back. Rows with an empty name are dropped when stored. */
export interface HeaderRow {
  key: string;
  value: string;
}
export function headersToRows(h: NatsMicroQuery['headers']): HeaderRow[] {
  return Object.entries(h ?? {}).map(([key, value]) => ({ key, value: String(value ?? '') }));
}
export function rowsToHeaders(rows: HeaderRow[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of rows) {
    const k = r.key.trim();
    if (k !== '') {
      out[k] = r.value;
    }
  }
  return out;
}
