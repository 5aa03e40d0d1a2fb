//! Options of the ping panel (what a dashboard stores for it).
/** Statistics the legend can show per instance. */
export type PingCalc = 'last' | 'mean' | 'max' | 'min';
export const PING_CALCS: PingCalc[] = ['last', 'mean', 'max', 'min'];

export interface PingLegendOptions {
  show: boolean;
  calcs: PingCalc[];
}

export interface PingPanelOptions {
  /** RTT threshold line in ms; 0 = none. */
  thresholdMs: number;
  legend: PingLegendOptions;
  /** Points kept per instance (oldest dropped): bounds the memory of accumulated snapshots. */
  maxPoints: number;
  /** A strip per instance under the chart, coloured by its liveness state. */
  stateStrip?: boolean;
}

export const DEFAULT_OPTIONS: PingPanelOptions = {
  thresholdMs: 0,
  legend: { show: true, calcs: ['last', 'mean', 'max'] },
  maxPoints: 1000,
  stateStrip: true,
};
