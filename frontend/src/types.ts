//! Types shared by both frontends; names and values mirror the Rust backend (src/query.rs, src/settings.rs, src/resources.rs).
import { DataSourceJsonData, DataQuery } from '@grafana/schema';

/** `queryType` — Rust `query::QueryType`. */
export type QueryType = 'ping' | 'services' | 'info' | 'stats' | 'request' | 'events';
export const QUERY_TYPES: QueryType[] = ['ping', 'services', 'info', 'stats', 'request', 'events'];

/** `format` — Rust `query::Format`. */
export type Format = 'instant' | 'table' | 'timeseries';

/** Formats each query type answers; the first is the default (Rust `QueryType::formats`). */
export const FORMATS: Record<QueryType, Format[]> = {
  ping: ['instant', 'table', 'timeseries'],
  services: ['instant', 'table', 'timeseries'],
  stats: ['instant', 'table', 'timeseries'],
  info: ['table'],
  request: ['table'],
  events: ['table'],
};

/** Values of `metric`, the one numeric field of an instant frame; the first is the default (Rust `QueryType::metrics`). */
export const METRICS: Record<QueryType, string[]> = {
  ping: ['rtt', 'up'],
  services: ['instances', 'down', 'versions'],
  stats: ['requests', 'errors', 'error_ratio', 'processing_time', 'average_processing_time'],
  info: [],
  request: [],
  events: [],
};

/** Values of `metric` for `format: timeseries` (one numeric field per series); the first is the default (Rust `QueryType::timeseries_metrics`). */
export const TIMESERIES_METRICS: Record<QueryType, string[]> = {
  ping: ['rtt', 'up'],
  services: ['instances', 'down', 'versions'],
  stats: ['request_rate', 'error_rate', 'error_ratio', 'average_processing_time'],
  info: [],
  request: [],
  events: [],
};

/** One stored query — Rust `query::Model` (camelCase keys). Complete on its own: alert rules run without the frontend. */
export interface NatsMicroQuery extends DataQuery {
  queryType?: QueryType;
  service?: string;
  instance?: string;
  endpoint?: string;
  format?: Format;
  metric?: string;
  subject?: string;
  payload?: string;
  /** Request headers as name → value. */
  headers?: Record<string, string>;
}

/** `authType` — Rust `settings::Auth::kind`. */
export type AuthType = 'none' | 'userpass' | 'token' | 'nkey' | 'creds';
export const AUTH_TYPES: AuthType[] = ['none', 'userpass', 'token', 'nkey', 'creds'];

/** Defaults — Rust `settings::DEFAULT_*`. */
export const DEFAULT_SRV_PREFIX = '$SRV';
export const DEFAULT_INBOX_PREFIX = '_INBOX';
export const DEFAULT_TIMEOUT_MS = 2000;
export const DEFAULT_SAMPLE_INTERVAL_SEC = 15;
export const DEFAULT_RETENTION_MINUTES = 60;
export const DEFAULT_MAX_ROUND_BYTES = 16 * 1024 * 1024;

/** Ranges the backend enforces (Rust `settings`). */
export const TIMEOUT_MS_RANGE: [number, number] = [10, 120000];
export const RETENTION_MINUTES_RANGE: [number, number] = [1, 10080];
export const SAMPLE_INTERVAL_SEC_RANGE: [number, number] = [0, 86400];
export const MAX_ROUND_BYTES_RANGE: [number, number] = [65536, 1073741824];

/** `jsonData` — SPEC "Data source settings". */
export interface NatsMicroOptions extends DataSourceJsonData {
  authType?: AuthType;
  username?: string;
  tlsAuth?: boolean;
  tlsAuthWithCACert?: boolean;
  tlsSkipVerify?: boolean;
  srvPrefix?: string;
  inboxPrefix?: string;
  timeoutMs?: number;
  sampleIntervalSec?: number;
  retentionMinutes?: number;
  /** Byte budget of one discovery round's replies. */
  maxRoundBytes?: number;
  /** Subject patterns `request` queries may use; empty = request queries refused. */
  requestSubjects?: string[];
}

/** `secureJsonData` keys — never read back by the frontend, only set or reset. */
export interface NatsMicroSecureJsonData {
  password?: string;
  token?: string;
  nkeySeed?: string;
  credentials?: string;
  tlsCACert?: string;
  tlsClientCert?: string;
  tlsClientKey?: string;
}

/** Resource `GET services` row — Rust `resources::services`. */
export interface ServiceSummary {
  name: string;
  instances: number;
  versions: string[];
}

/** Resource `GET services/<name>/instances` row — Rust `resources::instances`. */
export interface InstanceSummary {
  id: string;
  version: string;
  rttMs: number;
}

/** Resource `GET services/<name>/endpoints` row — Rust `resources::endpoints`. */
export interface EndpointSummary {
  name: string;
  subject: string;
  queueGroup: string;
}

/** Resource error body — Rust `resources::error`. */
export interface ResourceError {
  error: string;
}

/** What a query variable lists — the model stored in a dashboard variable's `query`. */
export type VariableQueryKind = 'services' | 'instances' | 'endpoints';
export const VARIABLE_QUERY_KINDS: VariableQueryKind[] = ['services', 'instances', 'endpoints'];

/** Variable query model; `service` (for instances/endpoints) may itself hold a template variable. */
export interface NatsMicroVariableQuery extends DataQuery {
  kind: VariableQueryKind;
  service?: string;
}
