//! The ping panel (placeholder until written).
import { PanelProps } from '@grafana/data';

import { PingPanelOptions } from '../panel/types';

export function PingPanel(_props: PanelProps<PingPanelOptions>) {
  return <div>ping</div>;
}
