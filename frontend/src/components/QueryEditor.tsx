//! Query editor (placeholder until written).
import { QueryEditorProps } from '@grafana/data';

import { DataSource } from '../datasource/datasource';
import { NatsMicroOptions, NatsMicroQuery } from '../types';

type Props = QueryEditorProps<DataSource, NatsMicroQuery, NatsMicroOptions>;

export function QueryEditor(_props: Props) {
  return <div>NATS Micro query</div>;
}
