//! Entry of the natsmicro-datasource frontend: registers the data source class and its editors.
import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from '../components/ConfigEditor';
import { QueryEditor } from '../components/QueryEditor';
import { DataSource } from './datasource';
import { NatsMicroOptions, NatsMicroQuery, NatsMicroSecureJsonData } from '../types';

export const plugin = new DataSourcePlugin<DataSource, NatsMicroQuery, NatsMicroOptions, NatsMicroSecureJsonData>(
  DataSource
)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
