//! Query editor: query type, service/instance/endpoint pickers (from the backend's resources), format, metric,
//! and for request queries subject, payload and headers. Every change stores a complete query.
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';
import {
  Button,
  IconButton,
  InlineField,
  InlineFieldRow,
  InlineSwitch,
  Input,
  RadioButtonGroup,
  Select,
  TextArea,
  useTheme2,
} from '@grafana/ui';
import { useMemo, useState } from 'react';

import {
  canAggregate,
  canStream,
  describeQuery,
  HeaderRow,
  headersToRows,
  isDataMetric,
  normalizeQuery,
  rowsToHeaders,
  usesEndpoint,
  usesInstance,
  usesService,
  metricsFor,
} from '../data/query';
import { endpointOptions, instanceOptions, probeOptions, serviceOptions } from '../data/resources';
import { expandName, variableNames } from '../data/variables';
import {
  AGGREGATES,
  Aggregate,
  DATA_PREFIX,
  DATA_QUERY_TYPES,
  DATA_TABLE_METRIC,
  FORMATS,
  MAX_DATA_LEAVES,
  NatsMicroApi,
  NatsMicroOptions,
  NatsMicroQuery,
  QUERY_TYPES,
  QueryType,
  SLO_DEFAULTS,
} from '../../common/types';
import { NamePicker } from './NamePicker';

type Props = QueryEditorProps<NatsMicroApi, NatsMicroQuery, NatsMicroOptions>;

const TYPE_LABELS: Record<QueryType, { label: string; description: string }> = {
  ping: { label: 'Ping', description: 'Round-trip time of every instance answering $SRV.PING' },
  services: { label: 'Services', description: 'Instances and versions per service name' },
  info: { label: 'Info', description: 'Instances and their endpoints ($SRV.INFO)' },
  stats: { label: 'Stats', description: 'Requests, errors and processing time per endpoint ($SRV.STATS)' },
  slo: { label: 'SLO', description: 'Uptime, reachability and error budget per service, from the sampled history' },
  probe: { label: 'Probe', description: "The data source's synthetic checks: latency, success, state" },
  request: { label: 'Request', description: 'Send one request to an allowed subject and show the reply' },
  events: { label: 'Events', description: 'Instances appeared, down, restarted, version changed (for annotations)' },
};

const FORMAT_LABELS = { instant: 'Instant', table: 'Table', timeseries: 'Time series' } as const;

const AGGREGATE_LABELS: Record<Aggregate, string> = {
  none: 'None',
  sum: 'Sum',
  avg: 'Avg',
  min: 'Min',
  max: 'Max',
  count: 'Count',
};

const LABEL_WIDTH = 14;

/** A number field's text as a stored number; empty = the backend's default. */
function optionalNumber(text: string): number | undefined {
  return text.trim() === '' ? undefined : Number(text);
}

/** The one concrete service a templated value stands for now, if it stands for exactly one. */
function concreteService(service: string | undefined): string | undefined {
  if (!service) {
    return undefined;
  }
  try {
    const values = expandName(service, getTemplateSrv());
    return values.length === 1 && values[0] !== '' && !values[0].includes('$') ? values[0] : undefined;
  } catch {
    return service.includes('$') ? undefined : service;
  }
}

/** The metric choices, plus the query's custom `data:<path>` when it has one. */
function metricOptions(
  t: QueryType,
  format: NatsMicroQuery['format'],
  metric: string | undefined
): Array<SelectableValue<string>> {
  const options = metricsFor(t, format).map((m): SelectableValue<string> => ({ value: m, label: m }));
  if (metric && isDataMetric(t, format, metric)) {
    options.push({ value: metric, label: metric, description: 'custom STATS data' });
  }
  return options;
}

export function QueryEditor({ query, onChange, onRunQuery, datasource }: Props) {
  const theme = useTheme2();
  const q = useMemo(() => normalizeQuery(query), [query]);
  const queryType = q.queryType as QueryType;
  const dataPathInvalid =
    DATA_QUERY_TYPES.includes(queryType) &&
    typeof query.metric === 'string' &&
    query.metric.startsWith(DATA_PREFIX) &&
    !isDataMetric(queryType, q.format, query.metric);
  const variables = useMemo(() => variableNames(getTemplateSrv()), []);
  const [rows, setRows] = useState<HeaderRow[]>(() => headersToRows(query.headers));

  /** Store a complete query; run it when the choice is complete. */
  const change = (patch: Partial<NatsMicroQuery>, run = true) => {
    const next = normalizeQuery({ ...q, ...patch });
    onChange(next);
    if (run) {
      onRunQuery();
    }
  };

  const service = concreteService(q.service);

  const setHeaderRows = (next: HeaderRow[], run: boolean) => {
    setRows(next);
    change({ headers: rowsToHeaders(next) }, run);
  };

  return (
    <div>
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={LABEL_WIDTH} tooltip="What to ask the NATS micro services">
          <div data-testid="natsmicro-query-type">
            <RadioButtonGroup<QueryType>
              options={QUERY_TYPES.map((t) => ({ value: t, ...TYPE_LABELS[t] }))}
              value={queryType}
              onChange={(t) => change({ queryType: t, format: FORMATS[t][0], metric: undefined }, t !== 'request')}
            />
          </div>
        </InlineField>
      </InlineFieldRow>

      {usesService(queryType) && (
        <InlineFieldRow>
          <InlineField
            label="Service"
            labelWidth={LABEL_WIDTH}
            tooltip="Service name (ADR-32 `name`); empty = all services. A multi-value variable runs one query per value."
          >
            <NamePicker
              testId="natsmicro-query-service"
              inputId="natsmicro-query-service-input"
              value={q.service}
              onChange={(v) => change({ service: v, instance: '', endpoint: '' })}
              load={() => datasource.services().then(serviceOptions)}
              loadKey="services"
              variables={variables}
              placeholder="All services"
              width={28}
            />
          </InlineField>
          {usesInstance(queryType) && (
            <InlineField
              label="Instance"
              labelWidth={LABEL_WIDTH}
              tooltip="Instance id of the chosen service; empty = all instances."
            >
              <NamePicker
                testId="natsmicro-query-instance"
                inputId="natsmicro-query-instance-input"
                value={q.instance}
                onChange={(v) => change({ instance: v })}
                load={service ? () => datasource.instances(service).then(instanceOptions) : undefined}
                loadKey={`instances/${service ?? ''}`}
                variables={variables}
                placeholder="All instances"
                unavailableText="Choose a service to list its instances"
                width={28}
              />
            </InlineField>
          )}
          {usesEndpoint(queryType) && (
            <InlineField
              label="Endpoint"
              labelWidth={LABEL_WIDTH}
              tooltip="Endpoint name of the chosen service; empty = all endpoints."
            >
              <NamePicker
                testId="natsmicro-query-endpoint"
                inputId="natsmicro-query-endpoint-input"
                value={q.endpoint}
                onChange={(v) => change({ endpoint: v })}
                load={service ? () => datasource.endpoints(service).then(endpointOptions) : undefined}
                loadKey={`endpoints/${service ?? ''}`}
                variables={variables}
                placeholder="All endpoints"
                unavailableText="Choose a service to list its endpoints"
                width={28}
              />
            </InlineField>
          )}
        </InlineFieldRow>
      )}

      <InlineFieldRow>
        <InlineField
          label="Format"
          labelWidth={LABEL_WIDTH}
          tooltip="Instant: one value per row (alertable). Table: all columns. Time series: history from the sampler."
        >
          <div data-testid="natsmicro-query-format">
            <RadioButtonGroup
              options={FORMATS[queryType].map((f) => ({ value: f, label: FORMAT_LABELS[f] }))}
              value={q.format}
              onChange={(f) => change({ format: f })}
            />
          </div>
        </InlineField>
        {metricsFor(queryType, q.format).length > 0 && (
          <InlineField
            label="Metric"
            labelWidth={LABEL_WIDTH}
            tooltip={
              DATA_QUERY_TYPES.includes(queryType)
                ? `The one numeric value of each row (instant) or of each series (time series). Type ${DATA_PREFIX}<path> for a numeric leaf of the endpoints' custom STATS data, e.g. ${DATA_PREFIX}queue.depth; a leaf ending in _total or starting with num_ is a counter and becomes a rate over time`
                : 'The one numeric value of each row (instant) or of each series (time series)'
            }
            invalid={dataPathInvalid}
            error={dataPathInvalid ? `Use ${DATA_PREFIX}<dot.path>, e.g. ${DATA_PREFIX}queue.depth` : undefined}
          >
            <div data-testid="natsmicro-query-metric">
              <Select<string>
                inputId="natsmicro-query-metric-input"
                options={metricOptions(queryType, q.format, q.metric)}
                value={q.metric}
                allowCustomValue={DATA_QUERY_TYPES.includes(queryType)}
                formatCreateLabel={(v) => `Custom data: ${v.startsWith(DATA_PREFIX) ? v : DATA_PREFIX + v}`}
                onCreateOption={(v) => change({ metric: v.startsWith(DATA_PREFIX) ? v : DATA_PREFIX + v })}
                onChange={(v) => change({ metric: v.value })}
                width={28}
              />
            </div>
          </InlineField>
        )}
        {DATA_QUERY_TYPES.includes(queryType) && q.format === 'table' && (
          <InlineField
            label="Data leaves"
            tooltip={`List every leaf of the endpoints' custom STATS data (path, number or text) instead of the counters. The history keeps the first ${MAX_DATA_LEAVES} numeric leaves per endpoint`}
          >
            <div data-testid="natsmicro-query-data-leaves">
              <InlineSwitch
                value={q.metric === DATA_TABLE_METRIC}
                onChange={(e) => change({ metric: e.currentTarget.checked ? DATA_TABLE_METRIC : undefined })}
              />
            </div>
          </InlineField>
        )}
        {canAggregate(q) && (
          <InlineField
            label="Aggregate"
            tooltip="Combine the instances of each service (and endpoint, for stats) into one value: no instance ids remain. Error ratio and average processing time are pooled (total errors over total requests); rates add up; count is the number of instances with a value. Aggregated time series refresh with the dashboard instead of streaming."
          >
            <div data-testid="natsmicro-query-aggregate">
              <RadioButtonGroup<Aggregate>
                options={AGGREGATES.map((a) => ({ value: a, label: AGGREGATE_LABELS[a] }))}
                value={q.aggregate ?? 'none'}
                onChange={(a) => change({ aggregate: a })}
              />
            </div>
          </InlineField>
        )}
        {canStream(q) && (
          <InlineField
            label="Live"
            tooltip="Stream new points into dashboard panels through Grafana Live. The history of the time range comes with every query either way; turn this off where WebSockets do not get through (some proxies), and the panel refreshes with the dashboard instead."
          >
            <InlineSwitch
              data-testid="natsmicro-query-live"
              value={q.live !== false}
              onChange={(e) => change({ live: e.currentTarget.checked ? undefined : false })}
            />
          </InlineField>
        )}
      </InlineFieldRow>

      {queryType === 'probe' && (
        <InlineFieldRow>
          <InlineField
            label="Probe"
            labelWidth={LABEL_WIDTH}
            tooltip="A probe of this data source's settings (Probes); empty = every probe, one row or series each"
          >
            <NamePicker
              testId="natsmicro-query-probe"
              inputId="natsmicro-query-probe-input"
              value={q.probe}
              onChange={(v) => change({ probe: v })}
              load={() => datasource.probes().then(probeOptions)}
              loadKey="probes"
              variables={[]}
              placeholder="All probes"
              width={28}
            />
          </InlineField>
        </InlineFieldRow>
      )}
      {queryType === 'slo' && (
        <InlineFieldRow>
          <InlineField
            label="Objective"
            labelWidth={LABEL_WIDTH}
            tooltip="The share of sampling rounds that must be up, between 0 and 1: 0.999 is 99.9 %. The error budget is 1 − objective; budget_remaining is the part of it left (below 0: overspent)."
          >
            <Input
              data-testid="natsmicro-query-objective"
              type="number"
              width={12}
              min={0}
              max={1}
              step={0.001}
              value={q.objective ?? SLO_DEFAULTS.objective}
              onChange={(e) => change({ objective: optionalNumber(e.currentTarget.value) }, false)}
              onBlur={() => onRunQuery()}
            />
          </InlineField>
          <InlineField
            label="Min instances"
            tooltip="Instances that must answer for a sampling round to count as up (the service's quorum)."
          >
            <Input
              data-testid="natsmicro-query-min-instances"
              type="number"
              width={10}
              min={1}
              max={SLO_DEFAULTS.maxMinInstances}
              step={1}
              value={q.minInstances ?? SLO_DEFAULTS.minInstances}
              onChange={(e) => change({ minInstances: optionalNumber(e.currentTarget.value) }, false)}
              onBlur={() => onRunQuery()}
            />
          </InlineField>
        </InlineFieldRow>
      )}

      {queryType === 'request' && (
        <>
          <InlineFieldRow>
            <InlineField
              label="Subject"
              labelWidth={LABEL_WIDTH}
              grow
              tooltip="Subject to send the request to; it must match a pattern in the data source's requestSubjects. No wildcards."
              invalid={!q.subject}
              error="A request query needs a subject"
            >
              <Input
                data-testid="natsmicro-query-subject"
                placeholder="orders.get"
                value={q.subject ?? ''}
                onChange={(e) => change({ subject: e.currentTarget.value }, false)}
                onBlur={() => q.subject && onRunQuery()}
              />
            </InlineField>
          </InlineFieldRow>
          <InlineFieldRow>
            <InlineField
              label="Payload"
              labelWidth={LABEL_WIDTH}
              grow
              tooltip="Request body sent as is (text or JSON); template variables are substituted."
            >
              <TextArea
                data-testid="natsmicro-query-payload"
                rows={3}
                placeholder='{"id": 1}'
                value={q.payload ?? ''}
                onChange={(e) => change({ payload: e.currentTarget.value }, false)}
                onBlur={() => q.subject && onRunQuery()}
              />
            </InlineField>
          </InlineFieldRow>
          <InlineFieldRow>
            <InlineField
              label="Headers"
              labelWidth={LABEL_WIDTH}
              tooltip="NATS message headers sent with the request (name and value; no line breaks)."
            >
              <div data-testid="natsmicro-query-headers">
                {rows.map((r, i) => (
                  <div key={i} style={{ display: 'flex', gap: theme.spacing(0.5), marginBottom: theme.spacing(0.5) }}>
                    <Input
                      aria-label={`Header ${i + 1} name`}
                      placeholder="Name"
                      width={20}
                      value={r.key}
                      onChange={(e) =>
                        setHeaderRows(
                          rows.map((x, j) => (j === i ? { ...x, key: e.currentTarget.value } : x)),
                          false
                        )
                      }
                    />
                    <Input
                      aria-label={`Header ${i + 1} value`}
                      placeholder="Value"
                      width={30}
                      value={r.value}
                      onChange={(e) =>
                        setHeaderRows(
                          rows.map((x, j) => (j === i ? { ...x, value: e.currentTarget.value } : x)),
                          false
                        )
                      }
                    />
                    <IconButton
                      name="trash-alt"
                      tooltip="Remove header"
                      onClick={() =>
                        setHeaderRows(
                          rows.filter((_, j) => j !== i),
                          Boolean(q.subject)
                        )
                      }
                    />
                  </div>
                ))}
                <Button
                  variant="secondary"
                  size="sm"
                  icon="plus"
                  onClick={() => setRows([...rows, { key: '', value: '' }])}
                >
                  Add header
                </Button>
              </div>
            </InlineField>
          </InlineFieldRow>
        </>
      )}

      <div
        data-testid="natsmicro-query-hint"
        style={{ color: theme.colors.text.secondary, fontSize: theme.typography.bodySmall.fontSize }}
      >
        {describeQuery(q)}
      </div>
    </div>
  );
}
