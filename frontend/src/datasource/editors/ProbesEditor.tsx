//! The Probes section of the data source settings: a list of synthetic checks (name, subject, payload, timeout, warn/crit latency, assertion), add and remove, and a Test button that runs one saved probe once through the backend (`POST probes/<name>/test`).
import { Alert, Button, InlineField, InlineFieldRow, Input } from '@grafana/ui';
import { useState } from 'react';

import { ProbeSettings, ProbeTestResult } from '../../common/types';

export interface ProbesEditorProps {
  probes: ProbeSettings[];
  onChange: (probes: ProbeSettings[]) => void;
  /** Runs a saved probe once; undefined while the data source has never been saved. */
  test?: (name: string) => Promise<ProbeTestResult>;
  /** The probes as last saved (a changed probe must be saved before it can be tested). */
  saved: ProbeSettings[];
}

const LABEL = 16;

function optionalMs(text: string): number | undefined {
  const n = Number(text);
  return text.trim() === '' || !Number.isFinite(n) ? undefined : Math.round(n);
}

/** The assertion's `equals` as the user typed it: JSON when it parses, else the text. */
function parseEquals(text: string): unknown {
  if (text.trim() === '') {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function shownEquals(v: unknown): string {
  return v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
}

export function ProbesEditor({ probes, onChange, test, saved }: ProbesEditorProps) {
  const [results, setResults] = useState<Record<number, ProbeTestResult | string>>({});
  const set = (i: number, patch: Partial<ProbeSettings>) =>
    onChange(probes.map((p, j) => (j === i ? { ...p, ...patch } : p)));
  const setExpect = (i: number, patch: NonNullable<ProbeSettings['expect']>) =>
    set(i, { expect: { ...probes[i].expect, ...patch } });
  const unsaved = (p: ProbeSettings) => JSON.stringify(saved.find((s) => s.name === p.name)) !== JSON.stringify(p);
  const run = async (i: number) => {
    if (!test) {
      return;
    }
    try {
      const r = await test(probes[i].name);
      setResults((all) => ({ ...all, [i]: r }));
    } catch (e) {
      setResults((all) => ({ ...all, [i]: e instanceof Error ? e.message : String(e) }));
    }
  };
  const msField = (
    p: ProbeSettings,
    i: number,
    key: 'timeoutMs' | 'warnMs' | 'critMs',
    label: string,
    tooltip: string,
    labelWidth?: number
  ) => (
    <InlineField label={label} labelWidth={labelWidth} tooltip={tooltip}>
      <Input
        aria-label={`Probe ${key.replace('Ms', '')}`}
        type="number"
        width={10}
        value={p[key] ?? ''}
        onChange={(e) => set(i, { [key]: optionalMs(e.currentTarget.value) })}
      />
    </InlineField>
  );
  return (
    <div data-testid="natsmicro-config-probes">
      {probes.map((p, i) => {
        const result = results[i];
        return (
          <div key={i} data-testid="natsmicro-config-probe" style={{ marginBottom: 12 }}>
            <InlineFieldRow>
              <InlineField
                label="Name"
                labelWidth={LABEL}
                tooltip="Names the probe's series and alert instances: letters, digits, - and _"
              >
                <Input
                  aria-label="Probe name"
                  width={20}
                  value={p.name}
                  onChange={(e) => set(i, { name: e.currentTarget.value })}
                />
              </InlineField>
              <InlineField label="Subject" tooltip="Where the probe sends its request; must match Request subjects">
                <Input
                  aria-label="Probe subject"
                  width={24}
                  value={p.subject}
                  onChange={(e) => set(i, { subject: e.currentTarget.value })}
                />
              </InlineField>
              <InlineField label="Payload">
                <Input
                  aria-label="Probe payload"
                  width={24}
                  value={p.payload ?? ''}
                  onChange={(e) => set(i, { payload: e.currentTarget.value })}
                />
              </InlineField>
            </InlineFieldRow>
            <InlineFieldRow>
              {msField(p, i, 'timeoutMs', 'Timeout (ms)', "Default: the data source's timeout", LABEL)}
              {msField(p, i, 'warnMs', 'Warn (ms)', 'Latency over this is slow (state 1)')}
              {msField(p, i, 'critMs', 'Crit (ms)', 'Latency over this fails the probe')}
            </InlineFieldRow>
            <InlineFieldRow>
              <InlineField
                label="JSON path"
                labelWidth={LABEL}
                tooltip="Dot path into the JSON reply, e.g. status or items.0.id; empty = the whole reply"
              >
                <Input
                  aria-label="Probe JSON path"
                  width={20}
                  value={p.expect?.jsonPath ?? ''}
                  onChange={(e) => setExpect(i, { jsonPath: e.currentTarget.value })}
                />
              </InlineField>
              <InlineField label="Equals" tooltip="The value there must equal this (JSON, or text)">
                <Input
                  aria-label="Probe equals"
                  width={16}
                  value={shownEquals(p.expect?.equals)}
                  onChange={(e) => setExpect(i, { equals: parseEquals(e.currentTarget.value) })}
                />
              </InlineField>
              <InlineField label="Contains" tooltip="The value there, as text, must contain this">
                <Input
                  aria-label="Probe contains"
                  width={16}
                  value={p.expect?.contains ?? ''}
                  onChange={(e) => setExpect(i, { contains: e.currentTarget.value || undefined })}
                />
              </InlineField>
              <Button
                variant="secondary"
                icon="play"
                disabled={!test || unsaved(p)}
                tooltip={
                  unsaved(p) ? 'Save the settings first: the test runs the saved probe' : 'Run this probe once now'
                }
                onClick={() => run(i)}
              >
                Test
              </Button>
              <Button
                variant="secondary"
                icon="trash-alt"
                aria-label="Remove probe"
                onClick={() => onChange(probes.filter((_, j) => j !== i))}
              />
            </InlineFieldRow>
            {result !== undefined && (
              <div data-testid="natsmicro-config-probe-result">
                {typeof result === 'string' ? (
                  <Alert severity="error" title="Probe test failed">
                    {result}
                  </Alert>
                ) : (
                  <Alert
                    severity={result.success ? 'success' : 'warning'}
                    title={`${result.success ? 'Success' : 'Failed'}: ${result.state}${result.latencyMs === null ? '' : `, ${result.latencyMs.toFixed(1)} ms`}`}
                  >
                    {result.detail || `${result.subject} answered as expected`}
                  </Alert>
                )}
              </div>
            )}
          </div>
        );
      })}
      <Button
        variant="secondary"
        icon="plus"
        onClick={() => onChange([...probes, { name: `probe-${probes.length + 1}`, subject: '' }])}
      >
        Add probe
      </Button>
    </div>
  );
}
