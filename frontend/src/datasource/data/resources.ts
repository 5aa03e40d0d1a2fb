//! Pure helpers for the backend's resource routes: paths, error text, rows → picker options.
import { SelectableValue } from '@grafana/data';

import { EndpointSummary, InstanceSummary, ProbeSummary, ServiceSummary } from '../../common/types';

export const servicesPath = () => 'services';
export const instancesPath = (service: string) => `services/${encodeURIComponent(service)}/instances`;
export const endpointsPath = (service: string) => `services/${encodeURIComponent(service)}/endpoints`;
export const probesPath = () => 'probes';
export const probeTestPath = (name: string) => `probes/${encodeURIComponent(name)}/test`;

/** The message to show for a failed resource call: the backend's `{error}` text when there is one. */
export function resourceErrorMessage(e: unknown): string {
  if (typeof e === 'string') {
    return e;
  }
  if (e && typeof e === 'object') {
    const o = e as { data?: unknown; message?: unknown; statusText?: unknown; status?: unknown };
    if (o.data && typeof o.data === 'object') {
      const d = o.data as { error?: unknown; message?: unknown };
      if (typeof d.error === 'string' && d.error) {
        return d.error;
      }
      if (typeof d.message === 'string' && d.message) {
        return d.message;
      }
    }
    if (typeof o.message === 'string' && o.message) {
      return o.message;
    }
    if (typeof o.statusText === 'string' && o.statusText) {
      return `${o.status ?? ''} ${o.statusText}`.trim();
    }
  }
  return 'request failed';
}

/** An Error carrying the backend's message (what `DataSource.services()` etc. reject with). */
export class ResourceCallError extends Error {
  constructor(
    message: string,
    readonly status?: number
  ) {
    super(message);
    this.name = 'ResourceCallError';
  }
}

export function toResourceError(e: unknown): ResourceCallError {
  if (e instanceof ResourceCallError) {
    return e;
  }
  const status =
    e && typeof e === 'object' && typeof (e as { status?: unknown }).status === 'number'
      ? (e as { status: number }).status
      : undefined;
  return new ResourceCallError(resourceErrorMessage(e), status);
}

/** Rows are arrays of objects; anything else is a protocol error worth saying so. */
export function expectArray<T>(body: unknown, what: string): T[] {
  if (!Array.isArray(body)) {
    throw new ResourceCallError(`unexpected answer for ${what}: not a list`);
  }
  return body as T[];
}

export function serviceOptions(rows: ServiceSummary[]): Array<SelectableValue<string>> {
  return rows.map((s) => ({
    label: s.name,
    value: s.name,
    description: `${s.instances} instance${s.instances === 1 ? '' : 's'}${s.versions.length ? ` · ${s.versions.join(', ')}` : ''}`,
  }));
}

export function instanceOptions(rows: InstanceSummary[]): Array<SelectableValue<string>> {
  return rows.map((i) => ({
    label: i.id,
    value: i.id,
    description: `version ${i.version} · ${i.rttMs.toFixed(1)} ms`,
  }));
}

export function endpointOptions(rows: EndpointSummary[]): Array<SelectableValue<string>> {
  return rows.map((e) => ({
    label: e.name,
    value: e.name,
    description: e.queueGroup ? `${e.subject} (queue ${e.queueGroup})` : e.subject,
  }));
}

export function probeOptions(rows: ProbeSummary[]): Array<SelectableValue<string>> {
  return rows.map((p) => ({ label: p.name, value: p.name, description: p.subject }));
}
