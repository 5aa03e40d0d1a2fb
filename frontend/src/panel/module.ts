//! Entry of the natsmicro-ping-panel frontend: round-trip time per instance over time.
import { PanelPlugin, SelectableValue } from '@grafana/data';

import { PingPanel } from './components/PingPanel';
import { DEFAULT_OPTIONS, PING_CALCS, PingCalc, PingPanelOptions } from './types';

const CALC_LABELS: Record<PingCalc, string> = { last: 'Last', mean: 'Mean', max: 'Max', min: 'Min' };

// Grafana types a multi-select's options with the type of the whole (array) value; each option holds one item.
const CALC_OPTIONS = PING_CALCS.map((c) => ({ value: c, label: CALC_LABELS[c] })) as unknown as Array<
  SelectableValue<PingCalc[]>
>;

export const plugin = new PanelPlugin<PingPanelOptions>(PingPanel).setPanelOptions((builder) =>
  builder
    .addNumberInput({
      path: 'thresholdMs',
      name: 'Threshold (ms)',
      description: 'Draw a horizontal line at this round-trip time; 0 = none.',
      defaultValue: DEFAULT_OPTIONS.thresholdMs,
      settings: { min: 0 },
    })
    .addBooleanSwitch({
      path: 'stateStrip',
      name: 'State strip',
      description:
        'A strip per instance coloured by its state over time: add a ping query with metric "state" for the five states (up, slow, unresponsive, gone, denied, malformed); without one the strip shows up, slow (over the threshold) and down.',
      defaultValue: DEFAULT_OPTIONS.stateStrip,
    })
    .addBooleanSwitch({
      path: 'legend.show',
      name: 'Show legend',
      category: ['Legend'],
      defaultValue: DEFAULT_OPTIONS.legend.show,
    })
    .addMultiSelect({
      path: 'legend.calcs',
      name: 'Values',
      description: 'Statistics shown per instance (nulls — no answer — are ignored).',
      category: ['Legend'],
      defaultValue: DEFAULT_OPTIONS.legend.calcs,
      settings: { options: CALC_OPTIONS },
      showIf: (o) => o.legend?.show !== false,
    })
    .addNumberInput({
      path: 'maxPoints',
      name: 'Max points per instance',
      description: 'Oldest points are dropped beyond this; bounds memory when instant queries accumulate.',
      defaultValue: DEFAULT_OPTIONS.maxPoints,
      settings: { min: 10, max: 100000, integer: true },
    })
);
