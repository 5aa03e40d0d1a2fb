//! Options of the ping panel.
export interface PingPanelOptions {
  /** RTT threshold line in ms; 0 = none. */
  thresholdMs: number;
}
