//! The provisioned "NATS micro services" dashboard: services, instances, ping round-trip time, request rates, endpoint stats and endpoints of every service NATS Micro discovers.
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

import { DATASOURCE, eventsAnnotation, NatsMicro, rowName, serviceVariable, steps, tablePanel } from './natsmicro';

const lastValue = () => new common.ReduceDataOptionsBuilder().values(true).calcs(['lastNotNull']).fields('');
const legend = () =>
  new common.VizLegendOptionsBuilder()
    .displayMode(common.LegendDisplayMode.List)
    .placement(common.LegendPlacement.Bottom)
    .showLegend(true);
const tooltip = () => new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi);

export function servicesDashboard(): dashboard.Dashboard {
  return new dashboard.DashboardBuilder('NATS micro services')
    .uid('natsmicro-services')
    .tags(['nats', 'micro'])
    .timezone('browser')
    .editable()
    .refresh('10s')
    .time({ from: 'now-15m', to: 'now' })
    .withVariable(serviceVariable())
    .annotation(eventsAnnotation())
    .withPanel(
      tablePanel(
        'Services',
        'One row per service: instances answering, instances down, versions seen ($SRV.PING).',
        { x: 0, y: 0, w: 10, h: 7 },
        { queryType: 'services', format: 'table', service: '$service' }
      )
    )
    .withPanel(
      new bargauge.PanelBuilder()
        .title('Instances up')
        .description('1 = answered the last $SRV.PING, 0 = seen within the retention window but not answering (down).')
        .gridPos({ x: 10, y: 0, w: 14, h: 7 })
        .datasource(DATASOURCE)
        .withTarget(new NatsMicro({ queryType: 'ping', format: 'instant', metric: 'up', service: '$service' }))
        .orientation(common.VizOrientation.Horizontal)
        .displayMode(common.BarGaugeDisplayMode.Basic)
        .showUnfilled(true)
        .reduceOptions(lastValue())
        .displayName(rowName('service', 'id'))
        .min(0)
        .max(1)
        .thresholds(steps('red', [1, 'green']))
    )
    .withPanel(
      new dashboard.PanelBuilder()
        .type('natsmicro-ping-panel')
        .title('Ping round-trip time')
        .description(
          "RTT of $SRV.PING per instance from the sampler's history, then live through Grafana Live; DOWN marks instances that stopped answering."
        )
        .gridPos({ x: 0, y: 7, w: 24, h: 10 })
        .datasource(DATASOURCE)
        .withTarget(new NatsMicro({ queryType: 'ping', format: 'timeseries', metric: 'rtt', service: '$service' }))
        .options({ thresholdMs: 50, legend: { show: true, calcs: ['last', 'mean', 'max'] }, maxPoints: 1000 })
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Instances per service')
        .description(
          'Instances answering per service over time (history of the sampler); a drop is an instance that stopped answering.'
        )
        .gridPos({ x: 0, y: 17, w: 12, h: 8 })
        .datasource(DATASOURCE)
        .withTarget(
          new NatsMicro({ queryType: 'services', format: 'timeseries', metric: 'instances', service: '$service' })
        )
        .legend(legend())
        .tooltip(tooltip())
        .unit('short')
        .decimals(0)
        .lineInterpolation(common.LineInterpolation.StepAfter)
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Request rate per endpoint')
        .description(
          'Requests per second per endpoint of each instance, from STATS counter deltas (restarts start a new segment); streams live.'
        )
        .gridPos({ x: 12, y: 17, w: 12, h: 8 })
        .datasource(DATASOURCE)
        .withTarget(
          new NatsMicro({ queryType: 'stats', format: 'timeseries', metric: 'request_rate', service: '$service' })
        )
        .legend(legend())
        .tooltip(tooltip())
        .unit('reqps')
    )
    .withPanel(
      tablePanel(
        'Endpoint stats',
        '$SRV.STATS per endpoint of each instance: requests, errors, processing time, average processing time, started.',
        { x: 0, y: 25, w: 24, h: 8 },
        { queryType: 'stats', format: 'table', service: '$service' }
      )
    )
    .withPanel(
      new bargauge.PanelBuilder()
        .title('Errors per endpoint')
        .description('Errors counted by each endpoint since its instance started.')
        .gridPos({ x: 0, y: 33, w: 12, h: 8 })
        .datasource(DATASOURCE)
        .withTarget(new NatsMicro({ queryType: 'stats', format: 'instant', metric: 'errors', service: '$service' }))
        .orientation(common.VizOrientation.Horizontal)
        .displayMode(common.BarGaugeDisplayMode.Gradient)
        .reduceOptions(lastValue())
        .displayName(`${rowName('service', 'endpoint')} (${rowName('id')})`)
        .thresholds(steps('green', [1, 'orange'], [100, 'red']))
    )
    .withPanel(
      new bargauge.PanelBuilder()
        .title('Error ratio per endpoint')
        .description('errors / requests per endpoint; the alert rule example fires above 5 %.')
        .gridPos({ x: 12, y: 33, w: 12, h: 8 })
        .datasource(DATASOURCE)
        .withTarget(
          new NatsMicro({ queryType: 'stats', format: 'instant', metric: 'error_ratio', service: '$service' })
        )
        .orientation(common.VizOrientation.Horizontal)
        .displayMode(common.BarGaugeDisplayMode.Gradient)
        .reduceOptions(lastValue())
        .unit('percentunit')
        .min(0)
        .max(1)
        .displayName(`${rowName('service', 'endpoint')} (${rowName('id')})`)
        .thresholds(steps('green', [0.05, 'orange'], [0.2, 'red']))
    )
    .withPanel(
      tablePanel(
        'Endpoints (INFO)',
        "$SRV.INFO: every instance's endpoints with subject and queue group, description and metadata.",
        { x: 0, y: 41, w: 24, h: 8 },
        { queryType: 'info', format: 'table', service: '$service' }
      )
    )
    .build();
}
