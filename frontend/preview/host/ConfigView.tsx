//! Configuration view: the plugin's ConfigEditor on the data source settings, and a host-owned "Save & test" like Grafana's data source page.
import { DataSourceSettings } from '@grafana/data';
import { getBackendSrv } from '@grafana/runtime';
import { Alert, Button, Stack } from '@grafana/ui';
import { useState } from 'react';

import { AnyDataSourcePlugin, PreviewDataSourceSrv } from './services';

interface Props {
  plugin: AnyDataSourcePlugin;
  dsSrv: PreviewDataSourceSrv;
  settings: DataSourceSettings;
  onChange: (s: DataSourceSettings) => void;
  onSaved: (s: DataSourceSettings) => void;
}

interface TestResult {
  status: 'success' | 'error' | 'info';
  message: string;
  details?: unknown;
}

/** Grafana's parseHealthCheckError: the message of a rejected testDatasource(), whatever its shape. */
function healthError(err: unknown): TestResult {
  const e = (err ?? {}) as {
    message?: string;
    data?: { message?: string };
    details?: unknown;
    error?: { details?: unknown };
  };
  return {
    status: 'error',
    message: e.message ?? e.data?.message ?? 'Unknown error',
    details: e.details ?? e.error?.details,
  };
}

export function ConfigView({ plugin, dsSrv, settings, onChange, onSaved }: Props) {
  const ConfigEditor = plugin.components.ConfigEditor;
  const [testing, setTesting] = useState(false);
  const [result, setResult] = useState<TestResult | null>(null);

  const saveAndTest = async () => {
    setTesting(true);
    setResult(null);
    try {
      const saved = await getBackendSrv().put<{ datasource: DataSourceSettings }>(
        `/api/datasources/uid/${settings.uid}`,
        settings
      );
      onSaved(saved.datasource);
      const ds = dsSrv.instanceNow();
      const r = await ds.testDatasource();
      setResult({
        status: r.status === 'success' ? 'success' : r.status === 'error' ? 'error' : 'info',
        message: r.message,
        details: r.details,
      });
    } catch (err) {
      setResult(healthError(err));
    } finally {
      setTesting(false);
    }
  };

  return (
    <Stack direction="column" gap={2}>
      <div>
        Name: <strong>{settings.name}</strong> · Type: {settings.type} · Version {settings.version}
      </div>
      <div data-testid="preview-config-editor">
        {ConfigEditor ? (
          <ConfigEditor options={settings} onOptionsChange={onChange} />
        ) : (
          <Alert severity="warning" title="The data source plugin has no ConfigEditor" />
        )}
      </div>
      <div data-testid="preview-health">
        {testing && <Alert severity="info" title="Testing..." />}
        {result && (
          <Alert severity={result.status} title={result.message} data-testid={`preview-health-${result.status}`}>
            {result.details ? <pre style={{ margin: 0 }}>{JSON.stringify(result.details, null, 2)}</pre> : null}
          </Alert>
        )}
      </div>
      <Stack direction="row" gap={1}>
        <Button onClick={saveAndTest} disabled={testing} data-testid="preview-save-test">
          Save &amp; test
        </Button>
      </Stack>
    </Stack>
  );
}
