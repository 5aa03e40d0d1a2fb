//! Entry of the natsmicro-ping-panel frontend: round-trip time per instance over time.
import { PanelPlugin } from '@grafana/data';

import { PingPanel } from '../components/PingPanel';
import { PingPanelOptions } from './types';

export const plugin = new PanelPlugin<PingPanelOptions>(PingPanel);
