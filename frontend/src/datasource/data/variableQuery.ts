//! Pure helpers for the variable query model: normalise stored models (incl. legacy strings) and build the answer frame.
import { DataFrame, FieldType, MetricFindValue } from '@grafana/data';

import { NatsMicroVariableQuery, VARIABLE_QUERY_KINDS, VariableQueryKind } from '../../common/types';

/**
 * Accept what a dashboard may hold: the model, a partial one, or a plain string
 * (`services`, `instances <service>`, `endpoints <service>`; e.g. typed in provisioning).
 */
export function normalizeVariableQuery(raw: unknown): NatsMicroVariableQuery {
  if (typeof raw === 'string') {
    const [kind, ...rest] = raw.trim().split(/\s+/);
    const k = (VARIABLE_QUERY_KINDS as string[]).includes(kind) ? (kind as VariableQueryKind) : 'services';
    const service = rest.join(' ');
    return k === 'services' || !service
      ? { refId: 'natsmicro-variable', kind: k }
      : { refId: 'natsmicro-variable', kind: k, service };
  }
  const o = raw && typeof raw === 'object' ? (raw as Partial<NatsMicroVariableQuery> & { query?: unknown }) : {};
  if (o.kind === undefined && typeof o.query === 'string') {
    return { ...normalizeVariableQuery(o.query), refId: o.refId ?? 'natsmicro-variable' };
  }
  const kind = o.kind && VARIABLE_QUERY_KINDS.includes(o.kind) ? o.kind : 'services';
  const out: NatsMicroVariableQuery = { refId: o.refId ?? 'natsmicro-variable', kind };
  if (kind !== 'services' && typeof o.service === 'string' && o.service.trim() !== '') {
    out.service = o.service.trim();
  }
  return out;
}

/** A frame with `text` and `value` string fields: what Grafana's variable runner turns into options. */
export function valuesToFrame(values: MetricFindValue[], refId: string): DataFrame {
  const text = values.map((v) => v.text);
  const value = values.map((v) => String(v.value ?? v.text));
  return {
    refId,
    length: values.length,
    fields: [
      { name: 'text', type: FieldType.string, config: {}, values: text },
      { name: 'value', type: FieldType.string, config: {}, values: value },
    ],
  };
}

/** One line saying what the variable lists. */
export function describeVariableQuery(q: NatsMicroVariableQuery): string {
  if (q.kind === 'services') {
    return 'Lists the names of all services that answer $SRV.PING.';
  }
  const what = q.kind === 'instances' ? 'instance ids' : 'endpoint names';
  return q.service ? `Lists the ${what} of service ${q.service}.` : `Choose a service to list its ${what}.`;
}
