//! Host chrome of the preview: "not Grafana" banner, three views (Configuration, Explore, Dashboard) around the plugins' own components.
import createCache from '@emotion/cache';
import { css } from '@emotion/css';
import { CacheProvider } from '@emotion/react';
import { DataSourcePluginMeta, DataSourceSettings, PanelPlugin, ThemeContext, createTheme } from '@grafana/data';
import { Alert, GlobalStyles, Tab, TabsBar } from '@grafana/ui';
import { useEffect, useMemo, useState } from 'react';

import { ConfigView } from './ConfigView';
import { DashboardView } from './DashboardView';
import { ExploreView } from './ExploreView';
import { AnyDataSourcePlugin, PreviewDataSourceSrv, PreviewTemplateSrv, instanceSettings } from './services';

/**
 * Grafana serves Inter and Roboto Mono from public/fonts; the npm packages do not ship them. GlobalStyles is
 * rendered through an emotion cache that drops its @font-face rules, so the page uses system fonts instead
 * of requesting files that do not exist here.
 */
const noFontFaces = createCache({
  key: 'preview-global',
  stylisPlugins: [
    (element) => {
      if (element.type === '@font-face') {
        element.children = [];
      }
    },
  ],
});

type View = 'config' | 'explore' | 'dashboard';
const VIEWS: Array<{ id: View; label: string }> = [
  { id: 'config', label: 'Configuration' },
  { id: 'explore', label: 'Explore / Query' },
  { id: 'dashboard', label: 'Dashboard' },
];

function viewOf(pathname: string): View {
  const v = pathname.replace(/^\/+/, '');
  return v === 'explore' || v === 'dashboard' ? v : 'config';
}

interface Props {
  dsPlugin?: AnyDataSourcePlugin;
  panelPlugin?: PanelPlugin;
  dsSrv?: PreviewDataSourceSrv;
  dsMeta: DataSourcePluginMeta;
  templateSrv: PreviewTemplateSrv;
  initialSettings: DataSourceSettings;
  loadErrors: Record<string, string>;
}

const styles = {
  banner: css({
    padding: '8px 16px',
    background: '#6e4b00',
    color: '#fff',
    fontWeight: 500,
    display: 'flex',
    justifyContent: 'space-between',
  }),
  page: css({ padding: '16px 24px', maxWidth: 1200 }),
};

export function App(props: Props) {
  const theme = useMemo(() => createTheme({ colors: { mode: 'dark' } }), []);
  const [view, setView] = useState<View>(viewOf(window.location.pathname));
  const [settings, setSettings] = useState<DataSourceSettings>(props.initialSettings);
  const [savedVersion, setSavedVersion] = useState(props.initialSettings.version);

  useEffect(() => {
    const onPop = () => setView(viewOf(window.location.pathname));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  const go = (v: View) => {
    window.history.pushState({}, '', `/${v}${window.location.search}`);
    setView(v);
  };

  /** After a save: new instance settings, new DataSource instance (Grafana reloads data sources the same way). */
  const onSaved = (saved: DataSourceSettings) => {
    setSettings(saved);
    setSavedVersion(saved.version);
    props.dsSrv?.update(instanceSettings(saved, props.dsMeta));
  };

  const pluginError = (id: string) =>
    props.loadErrors[id] ? (
      <Alert severity="error" title={`Could not load ${id}/module.js`} data-testid="preview-load-error">
        {props.loadErrors[id]}
      </Alert>
    ) : null;

  return (
    <ThemeContext.Provider value={theme}>
      <CacheProvider value={noFontFaces}>
        <GlobalStyles />
      </CacheProvider>
      <div className={styles.banner} data-testid="preview-banner">
        <span>Local preview host — not Grafana</span>
        <span>
          data source <code>{settings.name}</code> ({settings.type}) → {settings.url || '(no URL)'}
        </span>
      </div>
      <div className={styles.page}>
        <TabsBar>
          {VIEWS.map((v) => (
            <Tab
              key={v.id}
              label={v.label}
              active={view === v.id}
              onChangeTab={() => go(v.id)}
              data-testid={`preview-tab-${v.id}`}
            />
          ))}
        </TabsBar>
        <div style={{ paddingTop: 16 }}>
          {view === 'config' &&
            (pluginError('natsmicro-datasource') ?? (
              <ConfigView
                plugin={props.dsPlugin!}
                dsSrv={props.dsSrv!}
                settings={settings}
                onChange={setSettings}
                onSaved={onSaved}
              />
            ))}
          {view === 'explore' &&
            (pluginError('natsmicro-datasource') ?? (
              <ExploreView
                key={savedVersion}
                plugin={props.dsPlugin!}
                dsSrv={props.dsSrv!}
                templateSrv={props.templateSrv}
              />
            ))}
          {view === 'dashboard' &&
            (pluginError('natsmicro-ping-panel') ?? pluginError('natsmicro-datasource') ?? (
              <DashboardView key={savedVersion} plugin={props.panelPlugin!} dsSrv={props.dsSrv!} />
            ))}
        </div>
      </div>
    </ThemeContext.Provider>
  );
}
