//! Dashboard view: the panel plugin fed by a ping query through the DataSource (last 5 minutes) — an instant snapshot re-run every few seconds, or a `timeseries` query streamed over Grafana Live (the preview's Live bridge) — with a threshold option.
import { css } from '@emotion/css';
import {
  CoreApp,
  DataQuery,
  DataSourceApi,
  EventBusSrv,
  FieldConfigSource,
  LoadingState,
  PanelData,
  PanelOptionsEditorBuilder,
  PanelPlugin,
  applyFieldOverrides,
  dateTimeFormat,
} from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';
import { Alert, Button, Field, Input, RadioButtonGroup, Stack, useTheme2 } from '@grafana/ui';
import { set } from 'lodash';
import { Ref, useEffect, useMemo, useRef, useState } from 'react';
import { from } from 'rxjs';

import { lastMinutes, makeRequest, runQuery } from './query';
import { PreviewDataSourceSrv } from './services';

interface Props {
  plugin: PanelPlugin;
  dsSrv: PreviewDataSourceSrv;
}

const PANEL_HEIGHT = 380;
/** The dashboard's time range: last 5 minutes, or `?range=<minutes>`. */
const RANGE_MINUTES = numberFromUrl('range', 5);

/** `?live=1` opens the live (streaming) mode. */
const LIVE_FROM_URL = new URLSearchParams(window.location.search).get('live') === '1';

type Mode = 'snapshot' | 'live';

function numberFromUrl(key: string, fallback: number): number {
  const n = Number(new URLSearchParams(window.location.search).get(key)?.replace(/[sm]$/, ''));
  return Number.isFinite(n) && n >= 1 ? n : fallback;
}

const styles = {
  panel: css({ border: '1px solid rgba(204, 204, 220, 0.15)', borderRadius: 2, background: '#181b1f' }),
  header: css({ padding: '6px 8px', fontWeight: 500, display: 'flex', justifyContent: 'space-between' }),
  body: css({ padding: 8 }),
};

function NoPanel() {
  return <Alert severity="warning" title="The panel plugin has no panel component" />;
}

/** Default options from the plugin's option builder, as Grafana computes them for a new panel. */
function defaultOptions(plugin: PanelPlugin): Record<string, unknown> {
  const options: Record<string, unknown> = { ...(plugin.defaults ?? {}) };
  try {
    const builder = new PanelOptionsEditorBuilder<Record<string, unknown>>();
    plugin.getPanelOptionsSupplier()(builder, { data: [] });
    for (const item of builder.getItems()) {
      if (item.defaultValue !== undefined) {
        set(options, item.path, item.defaultValue);
      }
    }
  } catch {
    // a plugin without options
  }
  return options;
}

/** `?panels=2` (live mode): a second panel with the same query, as two panels of one dashboard sharing a channel. */
const TWIN_PANEL = numberFromUrl('panels', 1) >= 2;

/**
 * One panel's live query: ONE DataSource.query(); DataSourceWithBackend sees meta.channel on its frame and
 * subscribes through getGrafanaLiveSrv(); every emission (the grown StreamingDataFrame) becomes the panel's data.
 */
function subscribeLive(
  ds: DataSourceApi<DataQuery>,
  query: DataQuery,
  panel: { id: number; pluginId: string },
  rangeMinutes: number,
  onData: (d: PanelData) => void
): () => void {
  const request = makeRequest([query], lastMinutes(rangeMinutes), CoreApp.Dashboard, {
    panelId: panel.id,
    dashboardUID: 'natsmicro-preview',
    panelPluginId: panel.pluginId,
  });
  const sub = from(ds.query(request)).subscribe({
    next: (r) => {
      const errors = r.errors ?? (r.error ? [r.error] : []);
      onData({
        state: r.state ?? (errors.length ? LoadingState.Error : LoadingState.Done),
        series: r.data ?? [],
        errors: errors.length ? errors : undefined,
        error: errors[0],
        timeRange: lastMinutes(rangeMinutes),
        request,
      });
    },
    error: (e) =>
      onData({ state: LoadingState.Error, series: [], timeRange: request.range, errors: [{ message: String(e) }] }),
  });
  return () => sub.unsubscribe();
}

/** The data with the field config applied, as Grafana hands it to a panel. */
function useFieldOverrides(data: PanelData, fieldConfig: FieldConfigSource, plugin: PanelPlugin): PanelData {
  const theme = useTheme2();
  const replaceVariables = useReplaceVariables();
  return useMemo<PanelData>(() => {
    try {
      const series = applyFieldOverrides({
        data: data.series,
        fieldConfig,
        replaceVariables,
        theme,
        timeZone: 'browser',
        fieldConfigRegistry: plugin.fieldConfigRegistry,
      });
      return { ...data, series };
    } catch {
      return data;
    }
  }, [data, fieldConfig, replaceVariables, theme, plugin]);
}

function useReplaceVariables() {
  return useMemo(() => {
    const srv = getTemplateSrv();
    return (value: string, scopedVars?: Parameters<typeof srv.replace>[1], format?: string | Function) =>
      srv.replace(value, scopedVars, format);
  }, []);
}

interface BoxProps {
  plugin: PanelPlugin;
  id: number;
  title: string;
  data: PanelData;
  options: Record<string, unknown>;
  fieldConfig: FieldConfigSource;
  width: number;
  renderCounter: number;
  testId: string;
  bodyRef?: Ref<HTMLDivElement>;
  onOptionsChange: (o: Record<string, unknown>) => void;
  onFieldConfigChange: (c: FieldConfigSource) => void;
}

/** A dashboard panel: header, and the plugin's panel component with Grafana's props. */
function PanelBox({
  plugin,
  id,
  title,
  data,
  options,
  fieldConfig,
  width,
  renderCounter,
  testId,
  bodyRef,
  onOptionsChange,
  onFieldConfigChange,
}: BoxProps) {
  const Panel = plugin.panel ?? NoPanel;
  const eventBus = useMemo(() => new EventBusSrv(), []);
  const replaceVariables = useReplaceVariables();
  return (
    <div className={styles.panel}>
      <div className={styles.header}>
        <span>{title}</span>
        <span>{data.state}</span>
      </div>
      <div className={styles.body} ref={bodyRef} data-testid={testId} style={{ height: PANEL_HEIGHT }}>
        <Panel
          id={id}
          data={data}
          timeRange={data.timeRange}
          timeZone="browser"
          options={options}
          fieldConfig={fieldConfig}
          transparent={false}
          width={width}
          height={PANEL_HEIGHT - 16}
          renderCounter={renderCounter}
          title={title}
          eventBus={eventBus}
          onOptionsChange={onOptionsChange}
          onFieldConfigChange={onFieldConfigChange}
          replaceVariables={replaceVariables}
          onChangeTimeRange={() => {}}
        />
      </div>
    </div>
  );
}

type TwinProps = Omit<BoxProps, 'id' | 'data' | 'renderCounter' | 'testId' | 'bodyRef'> & {
  ds: DataSourceApi<DataQuery>;
  query: DataQuery;
  rangeMinutes: number;
  runs: number;
};

/** The second live panel (`?panels=2`): the same query, its own subscription, the same channel. */
function TwinPanel({ ds, query, rangeMinutes, runs, ...box }: TwinProps) {
  const [data, setData] = useState<PanelData>(() => ({
    state: LoadingState.NotStarted,
    series: [],
    timeRange: lastMinutes(rangeMinutes),
  }));
  const [updates, setUpdates] = useState(0);
  useEffect(
    () =>
      subscribeLive(ds, query, { id: 2, pluginId: box.plugin.meta.id }, rangeMinutes, (d) => {
        setData(d);
        setUpdates((n) => n + 1);
      }),
    [ds, query, box.plugin, rangeMinutes, runs]
  );
  const processed = useFieldOverrides(data, box.fieldConfig, box.plugin);
  return <PanelBox {...box} id={2} data={processed} renderCounter={updates} testId="preview-panel-2" />;
}

export function DashboardView({ plugin, dsSrv }: Props) {
  const ds = useMemo(() => dsSrv.instanceNow() as DataSourceApi<DataQuery>, [dsSrv]);
  const [options, setOptions] = useState<Record<string, unknown>>(() => defaultOptions(plugin));
  const [fieldConfig, setFieldConfig] = useState<FieldConfigSource>(() => plugin.fieldConfigDefaults);
  const [refreshSec, setRefreshSec] = useState(() => numberFromUrl('refresh', 5));
  const [mode, setMode] = useState<Mode>(LIVE_FROM_URL ? 'live' : 'snapshot');
  const [data, setData] = useState<PanelData>(() => ({
    state: LoadingState.NotStarted,
    series: [],
    timeRange: lastMinutes(RANGE_MINUTES),
  }));
  const [refreshes, setRefreshes] = useState(0);
  // Live mode: a dashboard refresh re-runs the query (runs), and the time range can change; both
  // re-subscribe to the same channel, as Grafana does.
  const [runs, setRuns] = useState(0);
  const [rangeMinutes, setRangeMinutes] = useState(RANGE_MINUTES);
  const [lastAt, setLastAt] = useState<number | null>(null);
  const [width, setWidth] = useState(800);
  const bodyRef = useRef<HTMLDivElement>(null);
  const query = useMemo<DataQuery>(
    () =>
      ({
        refId: 'A',
        datasource: { uid: ds.uid, type: ds.type },
        queryType: 'ping',
        format: mode === 'live' ? 'timeseries' : 'instant',
        metric: 'rtt',
      }) as DataQuery,
    [ds, mode]
  );

  useEffect(() => {
    const el = bodyRef.current;
    if (!el) {
      return;
    }
    const ro = new ResizeObserver(() => setWidth(Math.max(200, el.clientWidth - 16)));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // Live: the time range slides with the clock (Grafana's "liveNow") so new points stay inside it.
  useEffect(() => {
    if (mode !== 'live') {
      return;
    }
    const stop = subscribeLive(ds, query, { id: 1, pluginId: plugin.meta.id }, rangeMinutes, (d) => {
      setData(d);
      setRefreshes((n) => n + 1);
      setLastAt(Date.now());
    });
    const clock = setInterval(() => setData((d) => ({ ...d, timeRange: lastMinutes(rangeMinutes) })), 1000);
    return () => {
      stop();
      clearInterval(clock);
    };
  }, [ds, query, plugin, mode, runs, rangeMinutes]);

  useEffect(() => {
    if (mode !== 'snapshot') {
      return;
    }
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      const range = lastMinutes(RANGE_MINUTES);
      setData((d) => ({ ...d, state: LoadingState.Loading }));
      const request = makeRequest([query], range, CoreApp.Dashboard, {
        panelId: 1,
        dashboardUID: 'natsmicro-preview',
        panelPluginId: plugin.meta.id,
      });
      let next: PanelData;
      try {
        next = await runQuery(ds, request);
      } catch (e) {
        next = { state: LoadingState.Error, series: [], timeRange: range, errors: [{ message: String(e) }] };
      }
      if (!alive) {
        return;
      }
      setData(next);
      setRefreshes((n) => n + 1);
      setLastAt(Date.now());
      timer = setTimeout(tick, refreshSec * 1000);
    };
    tick();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [ds, query, plugin, refreshSec, mode]);

  const processed = useFieldOverrides(data, fieldConfig, plugin);

  const threshold = typeof options.thresholdMs === 'number' ? options.thresholdMs : 0;
  const title = mode === 'live' ? 'Ping round-trip time (live)' : 'Ping round-trip time';

  return (
    <Stack direction="column" gap={2}>
      <Stack direction="row" gap={2} alignItems="flex-end">
        <Field label="Threshold (ms)" description="Panel option thresholdMs; 0 = none">
          <Input
            type="number"
            width={16}
            value={threshold}
            min={0}
            data-testid="preview-panel-threshold"
            onChange={(e) => setOptions({ ...options, thresholdMs: Number(e.currentTarget.value) || 0 })}
          />
        </Field>
        <Field label="Query">
          <RadioButtonGroup
            value={mode}
            options={[
              { label: 'Instant (refreshed)', value: 'snapshot' as Mode },
              { label: 'Timeseries (live)', value: 'live' as Mode },
            ]}
            onChange={(v) => {
              setRefreshes(0);
              setData((d) => ({ ...d, state: LoadingState.Loading, series: [] }));
              setMode(v);
            }}
            data-testid="preview-dashboard-mode"
          />
        </Field>
        {mode === 'live' && (
          <Field label="Dashboard">
            <Stack direction="row" gap={1}>
              <Button variant="secondary" onClick={() => setRuns((n) => n + 1)} data-testid="preview-live-rerun">
                Refresh
              </Button>
              <div data-testid="preview-live-range">
                <RadioButtonGroup
                  value={rangeMinutes}
                  options={[1, 5, 15].map((m) => ({ label: `last ${m}m`, value: m }))}
                  onChange={(v) => setRangeMinutes(v)}
                />
              </div>
            </Stack>
          </Field>
        )}
        {mode === 'snapshot' && (
          <Field label="Refresh every">
            <RadioButtonGroup
              value={refreshSec}
              options={[1, 2, 5, 10].map((s) => ({ label: `${s}s`, value: s }))}
              onChange={(v) => setRefreshSec(v)}
            />
          </Field>
        )}
        <div
          data-testid="preview-refresh-count"
          data-refreshes={refreshes}
          data-mode={mode}
          data-rows={mode === 'live' ? (data.series[0]?.length ?? 0) : undefined}
          style={{ paddingBottom: 16 }}
        >
          {mode === 'live'
            ? `streaming over the preview's Live bridge: ${refreshes} updates, ${data.series[0]?.length ?? 0} rows`
            : `${refreshes} refreshes`}
          {lastAt ? `, last at ${dateTimeFormat(lastAt, { format: 'HH:mm:ss' })}` : ''} · time range last{' '}
          {(mode === 'live' ? rangeMinutes : RANGE_MINUTES) === 1
            ? 'minute'
            : `${mode === 'live' ? rangeMinutes : RANGE_MINUTES} minutes`}
        </div>
      </Stack>
      {(data.errors ?? []).map((e, i) => (
        <Alert key={i} severity="error" title={e.message ?? 'query failed'} />
      ))}
      <PanelBox
        plugin={plugin}
        id={1}
        title={title}
        data={processed}
        options={options}
        fieldConfig={fieldConfig}
        width={width}
        renderCounter={refreshes}
        testId="preview-panel"
        bodyRef={bodyRef}
        onOptionsChange={setOptions}
        onFieldConfigChange={setFieldConfig}
      />
      {mode === 'live' && TWIN_PANEL && (
        <TwinPanel
          plugin={plugin}
          title={`${title}, second panel`}
          ds={ds}
          query={query}
          rangeMinutes={rangeMinutes}
          runs={runs}
          options={options}
          fieldConfig={fieldConfig}
          width={width}
          onOptionsChange={setOptions}
          onFieldConfigChange={setFieldConfig}
        />
      )}
    </Stack>
  );
}
