//! Loads the BUILT plugin module.js files the way Grafana does: shared modules registered in SystemJS as `package:<name>` behind an import map, then System.import.
import * as emotionCss from '@emotion/css';
import * as emotionReact from '@emotion/react';
import * as grafanaData from '@grafana/data';
import { DataSourcePlugin, DataSourcePluginMeta, PanelPlugin, PanelPluginMeta } from '@grafana/data';
import * as grafanaRuntime from '@grafana/runtime';
import * as grafanaUIraw from '@grafana/ui';
import lodash from 'lodash';
// Grafana shares moment with plugins (its own code is asked to use dateTime instead).
// eslint-disable-next-line no-restricted-imports
import moment from 'moment';
import * as react from 'react';
import * as reactDom from 'react-dom';
import * as rxjs from 'rxjs';
import * as rxjsOperators from 'rxjs/operators';

import { AnyDataSourcePlugin } from './services';

/** The part of SystemJS (loaded by index.html, with the AMD extra) the host uses. */
interface SystemJSLike {
  set(id: string, module: object): void;
  addImportMap(map: { imports: Record<string, string> }, base?: string): void;
  import(id: string): Promise<Record<string, unknown>>;
}

/** Grafana's SHARED_DEPENDENCY_PREFIX: shared modules are URLs `package:<name>`. */
const PREFIX = 'package';

function systemJS(): SystemJSLike {
  const s = (window as unknown as { System?: SystemJSLike }).System;
  if (!s) {
    throw new Error('SystemJS is not loaded (index.html loads /public/vendor/systemjs/system.js)');
  }
  return s;
}

// Help the 6.4 → 6.5 migration like Grafana: base classes reachable from @grafana/ui too.
const grafanaUI: Record<string, unknown> = {
  ...grafanaUIraw,
  PanelPlugin: grafanaData.PanelPlugin,
  DataSourcePlugin: grafanaData.DataSourcePlugin,
  AppPlugin: grafanaData.AppPlugin,
  DataSourceApi: grafanaData.DataSourceApi,
};

/** The subset of Grafana's `sharedDependenciesMap` this project's plugins may import (scripts/build.mjs SHARED). */
export const sharedDependencies: Record<string, object> = {
  '@emotion/css': emotionCss,
  '@emotion/react': emotionReact,
  '@grafana/data': grafanaData,
  '@grafana/runtime': grafanaRuntime,
  '@grafana/ui': grafanaUI,
  lodash: { ...lodash, default: lodash, __useDefault: true },
  moment: { ...moment, default: moment, __useDefault: true },
  react,
  'react-dom': reactDom,
  rxjs,
  'rxjs/operators': rxjsOperators,
};

let registered = false;

/** `buildImportMap` + `SystemJS.addImportMap` of Grafana's plugin loader. */
export function registerSharedDependencies() {
  if (registered) {
    return;
  }
  const System = systemJS();
  const imports: Record<string, string> = {};
  for (const [name, module] of Object.entries(sharedDependencies)) {
    const id = `${PREFIX}:${name}`;
    System.set(id, module);
    imports[name] = id;
  }
  System.addImportMap({ imports });
  registered = true;
}

async function importPlugin(meta: { id: string; module: string }): Promise<unknown> {
  registerSharedDependencies();
  const url = '/' + meta.module.replace(/^\/+/, '');
  const exports = await systemJS().import(url);
  if (!exports.plugin) {
    throw new Error(`${url} does not export 'plugin'`);
  }
  return exports.plugin;
}

export async function importDataSourcePlugin(meta: DataSourcePluginMeta): Promise<AnyDataSourcePlugin> {
  const plugin = await importPlugin(meta);
  if (!(plugin instanceof DataSourcePlugin)) {
    throw new Error(`${meta.module}: 'plugin' is not a DataSourcePlugin of the shared @grafana/data`);
  }
  plugin.meta = meta;
  return plugin;
}

export async function importPanelPlugin(meta: PanelPluginMeta): Promise<PanelPlugin> {
  const plugin = await importPlugin(meta);
  if (!(plugin instanceof PanelPlugin)) {
    throw new Error(`${meta.module}: 'plugin' is not a PanelPlugin of the shared @grafana/data`);
  }
  plugin.meta = meta;
  return plugin;
}
