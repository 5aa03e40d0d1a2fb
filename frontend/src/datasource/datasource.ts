//! The data source: queries go to the Rust backend (DataSourceWithBackend); template variables are substituted
//! and multi-value filters expanded here (see data/variables.ts beside it for the behaviour); resource helpers for editors.
import { DataQueryRequest, DataQueryResponse, DataSourceInstanceSettings, ScopedVars } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import { Observable } from 'rxjs';
import { map } from 'rxjs/operators';

import { DEFAULT_QUERY, isRunnable } from './data/query';
import {
  endpointsPath,
  expectArray,
  instancesPath,
  probesPath,
  probeTestPath,
  servicesPath,
  toResourceError,
} from './data/resources';
import { applyVariables, expandTargets } from './data/variables';
import {
  EndpointSummary,
  InstanceSummary,
  NatsMicroOptions,
  NatsMicroQuery,
  NatsMicroResources,
  ProbeSummary,
  ProbeTestResult,
  ServiceSummary,
} from '../common/types';
import { NatsMicroVariableSupport } from './variables';

export class DataSource extends DataSourceWithBackend<NatsMicroQuery, NatsMicroOptions> implements NatsMicroResources {
  constructor(instanceSettings: DataSourceInstanceSettings<NatsMicroOptions>) {
    super(instanceSettings);
    this.variables = new NatsMicroVariableSupport(this);
    // Annotations: the standard support runs an `events` query (or any query) through the backend.
    this.annotations = {};
  }

  getDefaultQuery(): Partial<NatsMicroQuery> {
    return { ...DEFAULT_QUERY };
  }

  /** Hidden queries and request queries without a subject are not sent. */
  filterQuery(query: NatsMicroQuery): boolean {
    return isRunnable(query);
  }

  applyTemplateVariables(query: NatsMicroQuery, scopedVars: ScopedVars): NatsMicroQuery {
    return applyVariables(query, getTemplateSrv(), scopedVars);
  }

  /**
   * Expands targets whose service/instance/endpoint variables hold several values into one backend query per
   * value (unique wire refIds), then gives every frame and error of the answer its original refId back.
   */
  query(request: DataQueryRequest<NatsMicroQuery>): Observable<DataQueryResponse> {
    const runnable = request.targets.filter((t) => this.filterQuery(t));
    const { targets, refIds } = expandTargets(runnable, getTemplateSrv(), request.scopedVars);
    const response = super.query({ ...request, targets });
    if (refIds.size === 0) {
      return response;
    }
    return response.pipe(map((r) => restoreRefIds(r, refIds)));
  }

  /** `GET services`: one row per service name. */
  async services(): Promise<ServiceSummary[]> {
    return this.resource<ServiceSummary>(servicesPath(), 'services');
  }

  /** `GET services/<name>/instances`. */
  async instances(service: string): Promise<InstanceSummary[]> {
    return this.resource<InstanceSummary>(instancesPath(service), `instances of ${service}`);
  }

  /** `GET services/<name>/endpoints`. */
  async endpoints(service: string): Promise<EndpointSummary[]> {
    return this.resource<EndpointSummary>(endpointsPath(service), `endpoints of ${service}`);
  }

  /** `GET probes`: the probes of the saved settings. */
  async probes(): Promise<ProbeSummary[]> {
    return this.resource<ProbeSummary>(probesPath(), 'probes');
  }

  /** `POST probes/<name>/test`: run one saved probe once. */
  async testProbe(name: string): Promise<ProbeTestResult> {
    try {
      return (await this.postResource(probeTestPath(name), {}, { showErrorAlert: false })) as ProbeTestResult;
    } catch (e) {
      throw toResourceError(e);
    }
  }

  private async resource<T>(path: string, what: string): Promise<T[]> {
    let body: unknown;
    try {
      // Editors show the error themselves: no global toast.
      body = await this.getResource(path, undefined, { showErrorAlert: false });
    } catch (e) {
      throw toResourceError(e);
    }
    return expectArray<T>(body, what);
  }
}

/** Give frames and errors of expanded copies their original refId back. */
export function restoreRefIds(r: DataQueryResponse, refIds: Map<string, string>): DataQueryResponse {
  const back = (id?: string) => (id !== undefined && refIds.has(id) ? refIds.get(id) : id);
  const out: DataQueryResponse = {
    ...r,
    data: (r.data ?? []).map((f: { refId?: string }) =>
      f && refIds.has(f.refId ?? '') ? { ...f, refId: back(f.refId) } : f
    ),
  };
  if (r.error) {
    out.error = { ...r.error, refId: back(r.error.refId) };
  }
  if (r.errors) {
    out.errors = r.errors.map((e) => ({ ...e, refId: back(e.refId) }));
  }
  return out;
}
