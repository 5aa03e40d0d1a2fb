//! Types shared by both frontends; the query tables, defaults and ranges come from contract.json (made from the Rust types).
//! Rust sources: src/model/query/mod.rs, src/model/settings/mod.rs, src/grafana/resources.rs, tabled by src/model/contract.rs; `cargo test --test contract`
//! checks that contract.json says what they say.
import type { DataSourceApi } from '@grafana/data';
import type { DataSourceJsonData, DataQuery } from '@grafana/schema';

import contract from './contract.json';

/** `queryType` — Rust `model::query::QueryType`: exactly the keys of the contract's per-type tables. */
export type QueryType = keyof typeof contract.formats;
/** Every query type, in the order the editor offers them (types.test.ts checks it against the tables' keys). */
export const QUERY_TYPES = contract.queryTypes as QueryType[];

/** `format` — Rust `model::query::Format` (types.test.ts checks that the contract uses exactly these). */
export type Format = 'instant' | 'table' | 'timeseries';

/** Formats each query type answers; the first is the default (Rust `QueryType::formats`). */
export const FORMATS = contract.formats as Record<QueryType, Format[]>;

/** Values of `metric`, the one numeric field of an instant frame; the first is the default (Rust `QueryType::metrics`). */
export const METRICS: Record<QueryType, string[]> = contract.metrics;

/** Values of `metric` for `format: timeseries` (one numeric field per series); the first is the default (Rust `QueryType::timeseries_metrics`). */
export const TIMESERIES_METRICS: Record<QueryType, string[]> = contract.timeseriesMetrics;
/** Query types whose dashboard `timeseries` queries stream through Grafana Live — Rust `model::channel::streams`. */
export const LIVE_QUERY_TYPES = contract.liveQueryTypes as QueryType[];

/** `aggregate` — Rust `model::query::Aggregate`: how the instances of each service combine (`none` = one per instance). */
export type Aggregate = 'none' | 'sum' | 'avg' | 'min' | 'max' | 'count';
export const AGGREGATES = contract.aggregates as Aggregate[];
/** Query types whose instances `aggregate` combines, in formats instant and timeseries — Rust `Aggregate::applies_to`. */
export const AGGREGATE_QUERY_TYPES = contract.aggregateQueryTypes as QueryType[];
/** A five-state liveness state — Rust `model::state::State` (code, name, Grafana colour). */
export interface LivenessState {
  code: number;
  name: 'up' | 'slow' | 'unresponsive' | 'gone' | 'denied' | 'malformed';
  color: string;
}
export const STATES = contract.states as LivenessState[];

/** Custom STATS data — Rust `model::leaves`: `data:<path>` for one leaf, `data` for the table of every leaf. */
export const DATA_QUERY_TYPES = contract.data.queryTypes as QueryType[];
export const DATA_PREFIX: string = contract.data.prefix;
export const DATA_TABLE_METRIC: string = contract.data.tableMetric;
export const MAX_DATA_LEAVES: number = contract.data.maxLeaves;
export const MAX_DATA_PATH_LENGTH: number = contract.data.maxPathLength;

/** `slo` defaults and bounds — Rust `model::query::DEFAULT_OBJECTIVE`, `DEFAULT_MIN_INSTANCES`, `MAX_MIN_INSTANCES`, `timeseries::slo::ROLLING_MS`. */
export const SLO_DEFAULTS = contract.slo as {
  objective: number;
  minInstances: number;
  maxMinInstances: number;
  rollingWindowMs: number;
};

/** One stored query — Rust `model::query::Model` (camelCase keys). Complete on its own: alert rules run without the frontend. */
export interface NatsMicroQuery extends DataQuery {
  queryType?: QueryType;
  service?: string;
  instance?: string;
  endpoint?: string;
  format?: Format;
  metric?: string;
  /** Combine the instances of each service (ping, stats; instant and timeseries). */
  aggregate?: Aggregate;
  /** `slo`: the objective the error budget is measured against (0 < objective < 1; default 0.999). */
  objective?: number;
  /** `slo`: instances that must answer for a sampling round to count as up (default 1). */
  minInstances?: number;
  subject?: string;
  payload?: string;
  /** Request headers as name → value. */
  headers?: Record<string, string>;
  /** `false` turns Grafana Live streaming off for this query (default on). */
  live?: boolean;
  /** `probe` queries: the probe's name (empty = every probe). */
  probe?: string;
}

/** `authType` — Rust `model::settings::Auth::kind` (types.test.ts checks that the contract lists exactly these). */
export type AuthType = 'none' | 'userpass' | 'token' | 'nkey' | 'creds';
export const AUTH_TYPES = contract.authTypes as AuthType[];

/** Defaults — Rust `model::settings::DEFAULT_*`. */
export const DEFAULT_SRV_PREFIX: string = contract.defaults.srvPrefix;
export const DEFAULT_INBOX_PREFIX: string = contract.defaults.inboxPrefix;
export const DEFAULT_TIMEOUT_MS: number = contract.defaults.timeoutMs;
export const DEFAULT_SAMPLE_INTERVAL_SEC: number = contract.defaults.sampleIntervalSec;
export const DEFAULT_RETENTION_MINUTES: number = contract.defaults.retentionMinutes;
export const DEFAULT_MAX_ROUND_BYTES: number = contract.defaults.maxRoundBytes;
export const DEFAULT_SLOW_MS: number = contract.defaults.slowMs;
export const DEFAULT_HISTORY_STREAM: string = contract.defaults.historyStream;
export const DEFAULT_HISTORY_MAX_BYTES: number = contract.defaults.historyMaxBytes;
export const DEFAULT_HISTORY_REPLICAS: number = contract.defaults.historyReplicas;

/** `historyStore` — Rust `model::settings::StoreKind`; the default first. */
export type HistoryStore = 'memory' | 'jetstream';
export const HISTORY_STORES = contract.historyStores as HistoryStore[];

/** Inclusive `[min, max]` ranges the backend enforces (Rust `model::settings`); types.test.ts checks their shape. */
export const TIMEOUT_MS_RANGE = contract.ranges.timeoutMs as [number, number];
export const RETENTION_MINUTES_RANGE = contract.ranges.retentionMinutes as [number, number];
export const SAMPLE_INTERVAL_SEC_RANGE = contract.ranges.sampleIntervalSec as [number, number];
export const MAX_ROUND_BYTES_RANGE = contract.ranges.maxRoundBytes as [number, number];
export const SLOW_MS_RANGE = contract.ranges.slowMs as [number, number];
/** Every range of the contract, by settings key. */
export const CONTRACT_RANGES = contract.ranges as Record<keyof typeof contract.ranges, [number, number]>;

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
  /** RTT above which an answering instance's `state` is `slow`. */
  slowMs?: number;
  /** Subject patterns `request` queries may use; empty = request queries refused. */
  requestSubjects?: string[];
  /** Synthetic checks the sampler runs every period (their subjects must match requestSubjects). */
  probes?: ProbeSettings[];
  /** Where the sampled history lives: this process's memory, or a JetStream stream shared by every replica. */
  historyStore?: HistoryStore;
  /** The JetStream store's stream (its lease bucket is `<stream>_LEASE`). */
  historyStream?: string;
  historyMaxBytes?: number;
  historyReplicas?: number;
}

/** One entry of `jsonData.probes` — Rust `model::settings::Probe`. */
export interface ProbeSettings {
  name: string;
  subject: string;
  payload?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  warnMs?: number;
  critMs?: number;
  expect?: { jsonPath?: string; equals?: unknown; contains?: string };
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

/** Resource `GET services` row — Rust `grafana::resources::services`. */
export interface ServiceSummary {
  name: string;
  instances: number;
  versions: string[];
}

/** Resource `GET services/<name>/instances` row — Rust `grafana::resources::instances`. */
export interface InstanceSummary {
  id: string;
  version: string;
  rttMs: number;
}

/** Resource `GET services/<name>/endpoints` row — Rust `grafana::resources::endpoints`. */
export interface EndpointSummary {
  name: string;
  subject: string;
  queueGroup: string;
}

/** Resource error body — Rust `grafana::resources::error`. */
export interface ResourceError {
  error: string;
}

/** The data source's resource calls, all the editors and the variable support need of it (`DataSource` implements it). */
/** `GET probes`: a probe of the saved settings. */
export interface ProbeSummary {
  name: string;
  subject: string;
}

/** `POST probes/<name>/test`: one run of a saved probe — Rust `model::probe::ProbeResult`. */
export interface ProbeTestResult {
  name: string;
  subject: string;
  success: boolean;
  state: LivenessState['name'];
  latencyMs: number | null;
  code: number | null;
  detail: string;
}

export interface NatsMicroResources {
  services(): Promise<ServiceSummary[]>;
  instances(service: string): Promise<InstanceSummary[]>;
  endpoints(service: string): Promise<EndpointSummary[]>;
  probes(): Promise<ProbeSummary[]>;
}

/** The data source as the editors see it; a type of its own so that they need not import `DataSource` (no import circle). */
export type NatsMicroApi = DataSourceApi<NatsMicroQuery, NatsMicroOptions> & NatsMicroResources;

/** What a query variable lists — the model stored in a dashboard variable's `query`. */
export type VariableQueryKind = 'services' | 'instances' | 'endpoints';
export const VARIABLE_QUERY_KINDS: VariableQueryKind[] = ['services', 'instances', 'endpoints'];

/** Variable query model; `service` (for instances/endpoints) may itself hold a template variable. */
export interface NatsMicroVariableQuery extends DataQuery {
  kind: VariableQueryKind;
  service?: string;
}
