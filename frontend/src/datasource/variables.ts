//! Template variable support: a query variable lists services, instances of a service, or endpoints of a service.
import { CustomVariableSupport, DataQueryRequest, DataQueryResponse, MetricFindValue } from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';
import { from, Observable } from 'rxjs';

import { VariableQueryEditor } from './editors/VariableQueryEditor';
import { normalizeVariableQuery, valuesToFrame } from './data/variableQuery';
import { expandName } from './data/variables';
import { NatsMicroApi, NatsMicroResources, NatsMicroVariableQuery } from '../common/types';

export class NatsMicroVariableSupport extends CustomVariableSupport<NatsMicroApi, NatsMicroVariableQuery> {
  editor = VariableQueryEditor;

  constructor(private readonly datasource: NatsMicroResources) {
    super();
  }

  query(request: DataQueryRequest<NatsMicroVariableQuery>): Observable<DataQueryResponse> {
    const target = normalizeVariableQuery(request.targets[0]);
    return from(
      this.values(target, request).then(
        (values) => ({ data: [valuesToFrame(values, target.refId)] }),
        (e: Error) => ({ data: [], error: { message: e.message, refId: target.refId } })
      )
    );
  }

  /** The values of one variable query; a templated service with several values lists the union. */
  async values(
    q: NatsMicroVariableQuery,
    request?: DataQueryRequest<NatsMicroVariableQuery>
  ): Promise<MetricFindValue[]> {
    if (q.kind === 'services') {
      return (await this.datasource.services()).map((s) => ({ text: s.name, value: s.name }));
    }
    const services = expandName(q.service, getTemplateSrv(), request?.scopedVars).filter((s) => s !== '');
    if (services.length === 0) {
      throw new Error(`choose the service whose ${q.kind} to list`);
    }
    const seen = new Set<string>();
    const out: MetricFindValue[] = [];
    for (const service of services) {
      const names =
        q.kind === 'instances'
          ? (await this.datasource.instances(service)).map((i) => i.id)
          : (await this.datasource.endpoints(service)).map((e) => e.name);
      for (const n of names) {
        if (!seen.has(n)) {
          seen.add(n);
          out.push({ text: n, value: n });
        }
      }
    }
    return out;
  }
}
