//! Data source settings editor (placeholder until written).
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';

import { NatsMicroOptions, NatsMicroSecureJsonData } from '../types';

type Props = DataSourcePluginOptionsEditorProps<NatsMicroOptions, NatsMicroSecureJsonData>;

export function ConfigEditor(_props: Props) {
  return <div>NATS Micro settings</div>;
}
