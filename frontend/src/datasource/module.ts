//! Entry of the natsmicro-datasource frontend: registers the data source class and its editors.
import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './editors/ConfigEditor';
import { QueryEditor } from './editors/QueryEditor';
import { DataSource } from './datasource';
import { NatsMicroOptions, NatsMicroQuery, NatsMicroSecureJsonData } from '../common/types';

export const plugin = new DataSourcePlugin<DataSource, NatsMicroQuery, NatsMicroOptions, NatsMicroSecureJsonData>(
  DataSource
)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
