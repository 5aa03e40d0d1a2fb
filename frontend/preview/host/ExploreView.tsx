//! Explore view: the plugin's QueryEditor bound to one query, a "Run query" button, and the result frames as tables.
import { CoreApp, DataQuery, DataSourceApi, LoadingState, PanelData } from '@grafana/data';
import { Alert, Button, Stack } from '@grafana/ui';
import { useMemo, useRef, useState } from 'react';

import { FrameTable } from './FrameTable';
import { lastMinutes, makeRequest, runQuery } from './query';
import { AnyDataSourcePlugin, PreviewDataSourceSrv, PreviewTemplateSrv } from './services';

interface Props {
  plugin: AnyDataSourcePlugin;
  dsSrv: PreviewDataSourceSrv;
  templateSrv: PreviewTemplateSrv;
}

export function ExploreView({ plugin, dsSrv, templateSrv }: Props) {
  const ds = useMemo(() => dsSrv.instanceNow() as DataSourceApi<DataQuery>, [dsSrv]);
  const QueryEditor = plugin.components.QueryEditor;
  const [query, setQuery] = useState<DataQuery>(() => ({
    refId: 'A',
    datasource: { uid: ds.uid, type: ds.type },
    ...(ds.getDefaultQuery?.(CoreApp.Explore) ?? {}),
  }));
  // Grafana stores a changed query before it runs onRunQuery, so a run always sees the latest query;
  // React's state would hand the closure the previous one.
  const latest = useRef(query);
  const store = (q: DataQuery) => {
    latest.current = q;
    setQuery(q);
  };
  const [range] = useState(() => lastMinutes(15));
  const [data, setData] = useState<PanelData | undefined>();
  const [running, setRunning] = useState(false);

  const run = async (q: DataQuery = latest.current) => {
    setRunning(true);
    try {
      setData(await runQuery(ds, makeRequest([q], lastMinutes(15), CoreApp.Explore)));
    } catch (e) {
      setData({
        state: LoadingState.Error,
        series: [],
        timeRange: range,
        errors: [{ message: e instanceof Error ? e.message : String(e) }],
      });
    } finally {
      setRunning(false);
    }
  };

  return (
    <Stack direction="column" gap={2}>
      <div data-testid="preview-query-editor">
        {QueryEditor ? (
          <QueryEditor
            datasource={ds}
            query={query}
            onChange={store}
            onRunQuery={() => run()}
            range={range}
            data={data}
            app={CoreApp.Explore}
          />
        ) : (
          <Alert severity="warning" title="The data source plugin has no QueryEditor" />
        )}
      </div>
      <Stack direction="row" gap={1} alignItems="center">
        <Button icon="play" onClick={() => run()} disabled={running} data-testid="preview-run-query">
          Run query
        </Button>
        <span>
          Demo template variables:{' '}
          {templateSrv.variables.map((v) => `$${v.name} = ${templateSrv.replace('$' + v.name)}`).join(' · ')}
        </span>
      </Stack>
      <details>
        <summary>Stored query (what a dashboard or alert rule keeps)</summary>
        <pre data-testid="preview-query-json">{JSON.stringify(query, null, 2)}</pre>
      </details>
      <div data-testid="preview-results">
        {(data?.errors ?? []).map((e, i) => (
          <Alert key={i} severity="error" title={`${e.refId ? e.refId + ': ' : ''}${e.message ?? 'query failed'}`} />
        ))}
        {data && !data.errors?.length && data.series.length === 0 ? <div>No frames.</div> : null}
        {data?.series.map((f, i) => (
          <FrameTable key={i} frame={f} index={i} />
        ))}
      </div>
    </Stack>
  );
}
