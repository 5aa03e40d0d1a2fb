//! The provisioned "Service health" dashboard: is each instance up, how many answer per service, error ratios and request rates per service (aggregated) and per endpoint, processing times, and what changed — built on ping, services, stats and events queries.
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

import { DATASOURCE, eventsAnnotation, NatsMicro, serviceVariable, steps, tablePanel } from './natsmicro';

/** `up` 1/0 as the words and colours a state timeline shows. */
const UP_DOWN: dashboard.ValueMapping[] = [
  {
    type: dashboard.MappingType.ValueToText,
    options: {
      '0': { text: 'down', color: 'red', index: 0 },
      '1': { text: 'up', color: 'green', index: 1 },
    },
  },
];

export function healthDashboard(): dashboard.Dashboard {
  return new dashboard.DashboardBuilder('Service health')
    .uid('natsmicro-health')
    .description('Liveness, quorum and error budget inputs of every NATS micro service, from the sampled history.')
    .tags(['nats', 'micro', 'health'])
    .timezone('browser')
    .editable()
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .withVariable(serviceVariable())
    .annotation(eventsAnnotation())
    .withRow(new dashboard.RowBuilder('Service health'))
    .withPanel(
      new statetimeline.PanelBuilder()
        .title('Instance up / down')
        .description(
          'Each instance over time: up (answered the round) or down (seen within the retention window, silent).'
        )
        .gridPos({ x: 0, y: 1, w: 24, h: 9 })
        .datasource(DATASOURCE)
        .withTarget(
          new NatsMicro({ queryType: 'ping', format: 'timeseries', metric: 'up', service: '$service', live: false })
        )
        .mappings(UP_DOWN)
        .thresholds(steps('red', [1, 'green']))
        .showValue(common.VisibilityMode.Never)
    )
    .withPanel(
      new stat.PanelBuilder()
        .title('Instances answering')
        .description('Instances that answered the last $SRV.PING, per service.')
        .gridPos({ x: 0, y: 10, w: 12, h: 5 })
        .datasource(DATASOURCE)
        .withTarget(
          new NatsMicro({ queryType: 'services', format: 'instant', metric: 'instances', service: '$service' })
        )
        .thresholds(steps('red', [1, 'green']))
    )
    .withPanel(
      new stat.PanelBuilder()
        .title('Instances down')
        .description('Instances seen within the retention window that did not answer the last round, per service.')
        .gridPos({ x: 12, y: 10, w: 12, h: 5 })
        .datasource(DATASOURCE)
        .withTarget(new NatsMicro({ queryType: 'services', format: 'instant', metric: 'down', service: '$service' }))
        .thresholds(steps('green', [1, 'red']))
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Error ratio per service')
        .description(
          'Errors over requests of all instances together, per endpoint of each service (aggregate avg: pooled, so an idle instance does not hide a failing one).'
        )
        .gridPos({ x: 0, y: 15, w: 12, h: 8 })
        .datasource(DATASOURCE)
        .withTarget(
          new NatsMicro({
            queryType: 'stats',
            format: 'timeseries',
            metric: 'error_ratio',
            aggregate: 'avg',
            service: '$service',
          })
        )
        .unit('percentunit')
        .min(0)
        .thresholds(steps('green', [0.05, 'red']))
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Requests per second per service')
        .description('The request rates of all instances added up, per endpoint of each service (aggregate sum).')
        .gridPos({ x: 12, y: 15, w: 12, h: 8 })
        .datasource(DATASOURCE)
        .withTarget(
          new NatsMicro({
            queryType: 'stats',
            format: 'timeseries',
            metric: 'request_rate',
            aggregate: 'sum',
            service: '$service',
          })
        )
        .unit('reqps')
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Error ratio per endpoint')
        .description('errors / requests per sampling interval, per endpoint of each instance.')
        .gridPos({ x: 0, y: 23, w: 12, h: 8 })
        .datasource(DATASOURCE)
        .withTarget(
          new NatsMicro({ queryType: 'stats', format: 'timeseries', metric: 'error_ratio', service: '$service' })
        )
        .unit('percentunit')
        .min(0)
        .thresholds(steps('green', [0.05, 'red']))
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Average processing time')
        .description('Mean processing time of the requests of each interval, per endpoint of each instance.')
        .gridPos({ x: 12, y: 23, w: 12, h: 8 })
        .datasource(DATASOURCE)
        .withTarget(
          new NatsMicro({
            queryType: 'stats',
            format: 'timeseries',
            metric: 'average_processing_time',
            service: '$service',
          })
        )
        .unit('ms')
    )
    .withPanel(
      tablePanel(
        'What changed',
        'Instances that appeared, went down, restarted or changed version in the time range.',
        { x: 0, y: 31, w: 24, h: 8 },
        { queryType: 'events', format: 'table', service: '$service' }
      )
    )
    .build();
}
