//! Typed pieces the provisioned dashboards are built from: the NATS Micro data source reference and a query builder whose queries are the editor's complete ones (`NatsMicroQuery`, normalized as the query editor stores them).
import * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as table from '@grafana/grafana-foundation-sdk/table';

import { normalizeQuery } from '../src/datasource/data/query';
import { NatsMicroQuery } from '../src/common/types';

/** The provisioned data source (provisioning/datasources/natsmicro.yaml). */
export const DATASOURCE = { type: 'natsmicro-datasource', uid: 'natsmicro' };

/** One NATS Micro query in a panel, an annotation or a variable. */
export class NatsMicro implements cog.Builder<cog.Dataquery> {
  private readonly query: NatsMicroQuery;

  constructor(query: Omit<NatsMicroQuery, 'refId'> & { refId?: string }) {
    this.query = normalizeQuery({ refId: 'A', ...query });
  }

  build(): cog.Dataquery {
    return {
      ...this.query,
      datasource: DATASOURCE,
      _implementsDataqueryVariant() {},
    } as unknown as cog.Dataquery;
  }
}

/** The `$service` variable: services the data source discovers, several or all. */
export function serviceVariable(): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder('service')
    .label('Service')
    .datasource(DATASOURCE)
    .query({ kind: 'services' })
    .definition('services')
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .multi(true)
    .includeAll(true)
    .current({ text: 'All', value: '$__all' })
    .sort(dashboard.VariableSort.AlphabeticalAsc);
}

/** What the history sampler saw (instances appeared, down, restarted, upgraded), as annotations. */
export function eventsAnnotation(): dashboard.AnnotationQueryBuilder {
  return new dashboard.AnnotationQueryBuilder()
    .name('NATS micro events')
    .enable(true)
    .iconColor('orange')
    .datasource(DATASOURCE)
    .target(new NatsMicro({ refId: 'Anno', queryType: 'events', format: 'table', service: '$service' }));
}

/** `${__data.fields.service}/${__data.fields.id}`: a row's display name from its dimensions. */
export function rowName(...fields: string[]): string {
  return fields.map((f) => '${__data.fields.' + f + '}').join('/');
}

/** Absolute thresholds: the first colour from -∞, then each `[value, colour]`. */
export function steps(base: string, ...rest: Array<[number, string]>): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps([{ value: null, color: base }, ...rest.map(([value, color]) => ({ value, color }))]);
}

/** A table panel of one NATS Micro query. */
export function tablePanel(
  title: string,
  description: string,
  gridPos: dashboard.GridPos,
  query: ConstructorParameters<typeof NatsMicro>[0]
): table.PanelBuilder {
  return new table.PanelBuilder()
    .title(title)
    .description(description)
    .gridPos(gridPos)
    .datasource(DATASOURCE)
    .withTarget(new NatsMicro(query));
}
