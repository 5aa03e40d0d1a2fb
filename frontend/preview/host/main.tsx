//! Entry of the local preview host app: installs the runtime services, loads the built plugins through SystemJS, renders the views.
import { DataSourcePluginMeta, DataSourceSettings, EventBusSrv, PanelPlugin, PanelPluginMeta } from '@grafana/data';
import {
  setAppEvents,
  setBackendSrv,
  setDataSourceSrv,
  setEchoSrv,
  setGrafanaLiveSrv,
  setTemplateSrv,
} from '@grafana/runtime';
import { createRoot } from 'react-dom/client';

import { App } from './App';
import { createBackendSrv } from './backendSrv';
import { previewLiveSrv } from './live';
import { initRegistries } from './registries';
import { importDataSourcePlugin, importPanelPlugin, registerSharedDependencies } from './loader';
import { AnyDataSourcePlugin, PreviewDataSourceSrv, PreviewTemplateSrv, echoSrv, instanceSettings } from './services';

interface PreviewBootData {
  preview: { metas: Record<string, DataSourcePluginMeta | PanelPluginMeta> };
}

export const DS_UID = 'natsmicro';

async function boot() {
  const bootData = (window as unknown as { grafanaBootData: PreviewBootData }).grafanaBootData;
  const metas = bootData.preview.metas;
  const backendSrv = createBackendSrv();
  setBackendSrv(backendSrv);
  setEchoSrv(echoSrv);
  setGrafanaLiveSrv(previewLiveSrv);
  setAppEvents(new EventBusSrv());
  initRegistries();
  const templateSrv = new PreviewTemplateSrv([
    {
      name: 'service',
      label: 'Service',
      multi: true,
      options: ['orders', 'billing', 'inventory'],
      current: ['orders', 'billing'],
    },
    { name: 'env', label: 'Environment', multi: false, options: ['demo'], current: ['demo'] },
  ]);
  setTemplateSrv(templateSrv);
  registerSharedDependencies();

  const errors: Record<string, string> = {};
  const load = async <T,>(id: string, f: (meta: never) => Promise<T>): Promise<T | undefined> => {
    try {
      return await f(metas[id] as never);
    } catch (e) {
      errors[id] = e instanceof Error ? e.message : String(e);
      return undefined;
    }
  };
  const [dsPlugin, panelPlugin] = await Promise.all([
    load<AnyDataSourcePlugin>('natsmicro-datasource', importDataSourcePlugin),
    load<PanelPlugin>('natsmicro-ping-panel', importPanelPlugin),
  ]);
  const settings = await backendSrv.get<DataSourceSettings>(`/api/datasources/uid/${DS_UID}`);
  const dsMeta = metas['natsmicro-datasource'] as DataSourcePluginMeta;
  const dsSrv = dsPlugin ? new PreviewDataSourceSrv(dsPlugin, instanceSettings(settings, dsMeta)) : undefined;
  if (dsSrv) {
    setDataSourceSrv(dsSrv);
  }
  const root = createRoot(document.getElementById('root')!);
  root.render(
    <App
      dsPlugin={dsPlugin}
      panelPlugin={panelPlugin}
      dsSrv={dsSrv}
      dsMeta={dsMeta}
      templateSrv={templateSrv}
      initialSettings={settings}
      loadErrors={errors}
    />
  );
}

boot().catch((e) => {
  const el = document.getElementById('root');
  if (el) {
    el.textContent = `Local preview host failed to start: ${e instanceof Error ? e.message : String(e)}`;
  }
  throw e;
});
