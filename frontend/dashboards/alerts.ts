//! Alert recipes (provisioning/alerting/natsmicro-recipes.json): six rules on-call people trust — quorum, an instance not answering, aggregated error ratio, p95 latency, a failing probe, SLO burn — each in High, Medium and Low sensitivity, with a summary, a description and a runbook_url.
import { normalizeQuery } from '../src/datasource/data/query';
import { NatsMicroQuery } from '../src/common/types';
import { DATASOURCE } from './natsmicro';

export type Sensitivity = 'high' | 'medium' | 'low';
export const SENSITIVITIES: Sensitivity[] = ['high', 'medium', 'low'];

/** Where the runbooks are: docs/alerting.md, packaged with the plugin and served by Grafana. */
const RUNBOOKS = '/public/plugins/natsmicro-datasource/RUNBOOKS.md';

interface Recipe {
  key: string;
  title: (s: Sensitivity) => string;
  /** The query (complete on its own) and the time range it reads, in seconds back from now. */
  query: Omit<NatsMicroQuery, 'refId'>;
  range: number;
  /** A Reduce (mean, dropping non-numbers) between a time-series query and the threshold. */
  reduce?: boolean;
  threshold: (s: Sensitivity) => { type: 'gt' | 'lt'; value: number };
  for: Record<Sensitivity, string>;
  severity: Record<Sensitivity, string>;
  summary: string;
  description: string;
}

const SEVERITY = { high: 'critical', medium: 'warning', low: 'info' };

export const RECIPES: Recipe[] = [
  {
    key: 'quorum',
    title: () => 'Service below quorum (fewer than 2 instances up)',
    query: { queryType: 'ping', format: 'instant', metric: 'up', aggregate: 'sum' },
    range: 300,
    threshold: () => ({ type: 'lt', value: 2 }),
    for: { high: '0s', medium: '1m', low: '5m' },
    severity: SEVERITY,
    summary: '{{ $labels.service }} has {{ $values.A }} instance(s) up, below its quorum of 2',
    description:
      'Counts the instances that answered $SRV.PING (aggregate sum of up). Raise or lower the 2 per service.',
  },
  {
    key: 'not-answering',
    title: () => 'Instance not answering (unresponsive, gone, denied or malformed)',
    query: { queryType: 'ping', format: 'instant', metric: 'state' },
    range: 300,
    threshold: () => ({ type: 'gt', value: 1 }),
    for: { high: '0s', medium: '1m', low: '3m' },
    severity: SEVERITY,
    summary:
      '{{ $labels.service }} {{ $labels.id }} is in state {{ $values.A }} (2 unresponsive, 3 gone, 4 denied, 5 malformed)',
    description:
      'A known instance missed the PING round and its targeted ping said why: 2 = subscribed but hung, 3 = gone (no responders), 4 = this user may not ping it, 5 = invalid reply.',
  },
  {
    key: 'error-ratio',
    title: (s) => `Service error ratio over ${{ high: 1, medium: 5, low: 10 }[s]} % (5 min, all instances)`,
    query: { queryType: 'stats', format: 'timeseries', metric: 'error_ratio', aggregate: 'avg' },
    range: 300,
    reduce: true,
    threshold: (s) => ({ type: 'gt', value: { high: 0.01, medium: 0.05, low: 0.1 }[s] }),
    for: { high: '0s', medium: '2m', low: '5m' },
    severity: SEVERITY,
    summary: '{{ $labels.service }}/{{ $labels.endpoint }} fails {{ humanizePercentage $values.B }} of its requests',
    description: 'Errors over requests of every instance of the endpoint, pooled, averaged over 5 minutes.',
  },
  {
    key: 'latency-p95',
    title: (s) => `Ping p95 latency over ${{ high: 100, medium: 250, low: 500 }[s]} ms (5 min)`,
    query: { queryType: 'ping', format: 'instant', metric: 'rtt_p95' },
    range: 300,
    threshold: (s) => ({ type: 'gt', value: { high: 100, medium: 250, low: 500 }[s] }),
    for: { high: '0s', medium: '2m', low: '5m' },
    severity: SEVERITY,
    summary: '{{ $labels.service }} {{ $labels.id }}: p95 round-trip time {{ $values.A }} ms over the last 5 minutes',
    description: "The 95th percentile of the instance's sampled $SRV.PING round-trip times over the last 5 minutes.",
  },
  {
    key: 'probe-failing',
    title: () => 'Probe failing',
    query: { queryType: 'probe', format: 'instant', metric: 'success' },
    range: 300,
    threshold: () => ({ type: 'lt', value: 1 }),
    for: { high: '0s', medium: '1m', low: '3m' },
    severity: SEVERITY,
    summary: 'Probe {{ $labels.probe }} ({{ $labels.subject }}) fails',
    description:
      'A synthetic request of the data source (Probes) got no reply, a service error, a reply that fails its assertion, or a latency over its critMs.',
  },
  {
    key: 'slo-burn',
    title: (s) => `SLO burn: ${{ high: 50, medium: 75, low: 100 }[s]} % of the 99.9 % uptime budget spent (1 h)`,
    query: { queryType: 'slo', format: 'instant', metric: 'budget_remaining', objective: 0.999, minInstances: 1 },
    range: 3600,
    threshold: (s) => ({ type: 'lt', value: { high: 0.5, medium: 0.25, low: 0 }[s] }),
    for: { high: '0s', medium: '0s', low: '0s' },
    severity: SEVERITY,
    summary:
      '{{ $labels.service }}: {{ humanizePercentage $values.A }} of the uptime error budget left (objective 99.9 %)',
    description:
      'Share of sampling rounds of the last hour in which the service had at least one instance up, against a 99.9 % objective.',
  },
];

function rule(r: Recipe, s: Sensitivity) {
  const t = r.threshold(s);
  const query = normalizeQuery({ refId: 'A', ...r.query });
  const data: object[] = [
    { refId: 'A', relativeTimeRange: { from: r.range, to: 0 }, datasourceUid: DATASOURCE.uid, model: query },
  ];
  if (r.reduce) {
    data.push({
      refId: 'B',
      datasourceUid: '__expr__',
      model: { refId: 'B', type: 'reduce', expression: 'A', reducer: 'mean', settings: { mode: 'dropNN' } },
    });
  }
  data.push({
    refId: 'C',
    datasourceUid: '__expr__',
    model: {
      refId: 'C',
      type: 'threshold',
      expression: r.reduce ? 'B' : 'A',
      conditions: [{ evaluator: { type: t.type, params: [t.value] } }],
    },
  });
  return {
    uid: `natsmicro-${r.key}-${s}`,
    title: `${r.title(s)} [${s}]`,
    condition: 'C',
    for: r.for[s],
    noDataState: 'OK',
    execErrState: 'Error',
    annotations: { summary: r.summary, description: r.description, runbook_url: `${RUNBOOKS}#${r.key}` },
    labels: { severity: r.severity[s], sensitivity: s, recipe: r.key },
    data,
  };
}

/** The recipes file: one rule group per sensitivity, so a team provisions the one it wants. */
export function recipes() {
  return {
    apiVersion: 1,
    groups: SENSITIVITIES.map((s) => ({
      orgId: 1,
      name: `NATS micro recipes (${s} sensitivity)`,
      folder: 'NATS Micro',
      interval: s === 'high' ? '15s' : s === 'medium' ? '30s' : '1m',
      rules: RECIPES.map((r) => rule(r, s)),
    })),
  };
}
