//! The data source: queries go to the Rust backend (DataSourceWithBackend); template variables are substituted here.
import { DataSourceInstanceSettings } from '@grafana/data';
import { DataSourceWithBackend } from '@grafana/runtime';

import { NatsMicroOptions, NatsMicroQuery } from '../types';

export class DataSource extends DataSourceWithBackend<NatsMicroQuery, NatsMicroOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<NatsMicroOptions>) {
    super(instanceSettings);
  }
}
