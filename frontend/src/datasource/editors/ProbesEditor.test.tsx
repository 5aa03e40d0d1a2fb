//! Tests of the Probes section: add, edit and remove probes; Test runs only a saved probe and shows its result.
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { useState } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { ProbeSettings, ProbeTestResult } from '../../common/types';
import { ProbesEditor } from './ProbesEditor';

afterEach(cleanup);

function Harness({ initial, test }: { initial: ProbeSettings[]; test: (name: string) => Promise<ProbeTestResult> }) {
  const [probes, setProbes] = useState(initial);
  return (
    <>
      <ProbesEditor probes={probes} saved={initial} onChange={setProbes} test={test} />
      <pre data-testid="state">{JSON.stringify(probes)}</pre>
    </>
  );
}

const saved: ProbeSettings = { name: 'orders-get', subject: 'orders.get', warnMs: 50 };
const state = () => JSON.parse(screen.getByTestId('state').textContent ?? '[]') as ProbeSettings[];

describe('ProbesEditor', () => {
  it('adds, edits and removes probes', () => {
    render(<Harness initial={[saved]} test={vi.fn()} />);
    fireEvent.click(screen.getByText('Add probe'));
    expect(state()).toHaveLength(2);
    const subjects = screen.getAllByLabelText('Probe subject');
    fireEvent.change(subjects[1], { target: { value: 'billing.health' } });
    fireEvent.change(screen.getAllByLabelText('Probe crit')[1], { target: { value: '250' } });
    fireEvent.change(screen.getAllByLabelText('Probe JSON path')[1], { target: { value: 'status' } });
    fireEvent.change(screen.getAllByLabelText('Probe equals')[1], { target: { value: '"ok"' } });
    expect(state()[1]).toEqual({
      name: 'probe-2',
      subject: 'billing.health',
      critMs: 250,
      expect: { jsonPath: 'status', equals: 'ok' },
    });
    fireEvent.click(screen.getAllByLabelText('Remove probe')[0]);
    expect(state().map((p) => p.name)).toEqual(['probe-2']);
  });

  it('tests a saved probe through the backend and shows the result; an edited one must be saved first', async () => {
    const test = vi.fn(
      async (name: string): Promise<ProbeTestResult> => ({
        name,
        subject: 'orders.get',
        success: false,
        state: 'slow',
        latencyMs: 320.5,
        code: null,
        detail: 'latency 320.5 ms over critMs 200',
      })
    );
    render(<Harness initial={[saved]} test={test} />);
    const button = screen.getByText('Test').closest('button')!;
    expect(button.disabled || button.getAttribute('aria-disabled') === 'true').toBe(false);
    await act(async () => {
      fireEvent.click(button);
    });
    expect(test).toHaveBeenCalledWith('orders-get');
    const result = screen.getByTestId('natsmicro-config-probe-result');
    expect(result.textContent).toContain('Failed: slow, 320.5 ms');
    expect(result.textContent).toContain('over critMs 200');
    fireEvent.change(screen.getByLabelText('Probe payload'), { target: { value: 'x' } });
    const after = screen.getByText('Test').closest('button')!;
    // Grafana's Button with a tooltip marks itself aria-disabled.
    expect(after.disabled || after.getAttribute('aria-disabled') === 'true').toBe(true);
  });
});
