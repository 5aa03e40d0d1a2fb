//! The provisioned "Service health" dashboard: each instance's state, uptime SLO and error budget, probes, how many answer per service, error ratios and request rates per service (aggregated) and per endpoint, processing times, and what changed — built on ping, services, stats and events queries.
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

import { STATES } from '../src/common/types';
import { DATASOURCE, eventsAnnotation, NatsMicro, serviceVariable, steps, tablePanel } from './natsmicro';

/** The five liveness states as the words and colours a state timeline shows (the backend's own mappings). */
const STATE_MAPPINGS: dashboard.ValueMapping[] = [
  {
    type: dashboard.MappingType.ValueToText,
    options: Object.fromEntries(
      STATES.map((st) => [String(st.code), { text: st.name, color: st.color, index: st.code }])
    ),
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
        .title('Instance state')
        .description(
          'Each instance over time: up, slow (over slowMs), unresponsive (subscribed but silent), gone (no responders), denied (permissions) or malformed (invalid reply); the worst state of each step.'
        )
        .gridPos({ x: 0, y: 1, w: 24, h: 9 })
        .datasource(DATASOURCE)
        .withTarget(
          new NatsMicro({ queryType: 'ping', format: 'timeseries', metric: 'state', service: '$service', live: false })
        )
        .mappings(STATE_MAPPINGS)
        .showValue(common.VisibilityMode.Never)
    )
    .withPanel(
      new stat.PanelBuilder()
        .title('Uptime SLO (99.9 %)')
        .description(
          'Share of the sampling rounds in the time range in which each service had at least one instance up (queryType slo).'
        )
        .gridPos({ x: 0, y: 10, w: 8, h: 5 })
        .datasource(DATASOURCE)
        .withTarget(
          new NatsMicro({
            queryType: 'slo',
            format: 'instant',
            metric: 'uptime',
            objective: 0.999,
            minInstances: 1,
            service: '$service',
          })
        )
        .unit('percentunit')
        .decimals(3)
        .thresholds(steps('red', [0.99, 'orange'], [0.999, 'green']))
    )
    .withPanel(
      new stat.PanelBuilder()
        .title('Error budget left')
        .description(
          "What is left of the 99.9 % uptime objective's error budget over the time range (below 0: overspent)."
        )
        .gridPos({ x: 8, y: 10, w: 8, h: 5 })
        .datasource(DATASOURCE)
        .withTarget(
          new NatsMicro({
            queryType: 'slo',
            format: 'instant',
            metric: 'budget_remaining',
            objective: 0.999,
            minInstances: 1,
            service: '$service',
          })
        )
        .unit('percentunit')
        .thresholds(steps('red', [0, 'orange'], [0.5, 'green']))
    )
    .withPanel(
      tablePanel(
        'Probes',
        "The data source's synthetic checks (settings → Probes), run now: latency, success, state, service-error code and why a probe failed.",
        { x: 16, y: 10, w: 8, h: 5 },
        { queryType: 'probe', format: 'table' }
      )
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Jobs per second (custom STATS data)')
        .description(
          'A counter the services report in their custom STATS data (data:jobs_total), as a rate per endpoint of each instance.'
        )
        .gridPos({ x: 0, y: 44, w: 12, h: 8 })
        .datasource(DATASOURCE)
        .withTarget(
          new NatsMicro({ queryType: 'stats', format: 'timeseries', metric: 'data:jobs_total', service: '$service' })
        )
        .unit('cps')
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Probe latency')
        .description('Latency of each probe run by the sampler; gaps: no reply.')
        .gridPos({ x: 12, y: 44, w: 12, h: 8 })
        .datasource(DATASOURCE)
        .withTarget(new NatsMicro({ queryType: 'probe', format: 'timeseries', metric: 'latency' }))
        .unit('ms')
    )
    .withPanel(
      new stat.PanelBuilder()
        .title('Instances answering')
        .description('Instances that answered the last $SRV.PING, per service.')
        .gridPos({ x: 0, y: 15, w: 12, h: 5 })
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
        .gridPos({ x: 12, y: 15, w: 12, h: 5 })
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
        .gridPos({ x: 0, y: 20, w: 12, h: 8 })
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
        .gridPos({ x: 12, y: 20, w: 12, h: 8 })
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
        .gridPos({ x: 0, y: 28, w: 12, h: 8 })
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
        .gridPos({ x: 12, y: 28, w: 12, h: 8 })
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
        { x: 0, y: 36, w: 24, h: 8 },
        { queryType: 'events', format: 'table', service: '$service' }
      )
    )
    .build();
}
