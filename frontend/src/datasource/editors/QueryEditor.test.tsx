//! Tests of the query editor with a fake data source whose resource calls return promises.
import { setTemplateSrv } from '@grafana/runtime';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { stubTemplateSrv } from '../data/templateSrvStub';
import { NatsMicroApi, NatsMicroQuery } from '../../common/types';
import { QueryEditor } from './QueryEditor';

function fakeDatasource(getResource: (path: string) => Promise<unknown>) {
  const spy = vi.fn(getResource);
  const call = async (path: string) => {
    try {
      return await spy(path);
    } catch (e) {
      throw new Error((e as { data: { error: string } }).data.error);
    }
  };
  return {
    getResource: spy,
    services: () => call('services'),
    instances: (s: string) => call(`services/${s}/instances`),
    endpoints: (s: string) => call(`services/${s}/endpoints`),
    probes: () => call('probes'),
  };
}

function setup(query: NatsMicroQuery, getResource: (path: string) => Promise<unknown>) {
  const onChange = vi.fn();
  const onRunQuery = vi.fn();
  const ds = fakeDatasource(getResource);
  const utils = render(
    <QueryEditor query={query} onChange={onChange} onRunQuery={onRunQuery} datasource={ds as unknown as NatsMicroApi} />
  );
  return { ...utils, onChange, onRunQuery, ds };
}

const resources = (path: string): Promise<unknown> => {
  if (path === 'services') {
    return Promise.resolve([
      { name: 'orders', instances: 2, versions: ['1.0.0'] },
      { name: 'billing', instances: 1, versions: ['2.0.0'] },
    ]);
  }
  if (path === 'services/orders/instances') {
    return Promise.resolve([{ id: 'abc123', version: '1.0.0', rttMs: 1.2 }]);
  }
  if (path === 'services/orders/endpoints') {
    return Promise.resolve([{ name: 'get', subject: 'orders.get', queueGroup: 'q' }]);
  }
  return Promise.reject({ status: 502, data: { error: `nothing at ${path}` } });
};

async function openPicker(testId: string) {
  // Clicking inside the picker's element (its select control) opens the menu.
  const picker = screen.getByTestId(testId);
  await userEvent.click(within(picker).getByRole('combobox'));
}

afterEach(cleanup);

// Grafana's select menu watches its position; jsdom has no IntersectionObserver.
class NoIntersectionObserver {
  observe() {}
  unobserve() {}
  disconnect() {}
  takeRecords() {
    return [];
  }
}
(globalThis as unknown as { IntersectionObserver: unknown }).IntersectionObserver ??= NoIntersectionObserver;

beforeEach(() => {
  setTemplateSrv(stubTemplateSrv([{ name: 'svc', value: 'orders' }]));
});

describe('QueryEditor', () => {
  it('lists services as options and stores a complete query when one is picked', async () => {
    const { onChange, onRunQuery, ds } = setup({ refId: 'A' }, resources);
    await openPicker('natsmicro-query-service');
    const option = await screen.findByRole('option', { name: /orders/ });
    expect(within(option).getByText('orders')).toBeTruthy();
    expect(screen.getAllByRole('option').map((o) => o.textContent)).toEqual(
      expect.arrayContaining([expect.stringContaining('billing'), expect.stringContaining('$svc')])
    );
    expect(ds.getResource).toHaveBeenCalledWith('services');
    await userEvent.click(option);
    expect(onChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ refId: 'A', queryType: 'ping', format: 'instant', metric: 'rtt', service: 'orders' })
    );
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('asks the instances of the chosen service', async () => {
    const { ds, onChange } = setup({ refId: 'A', queryType: 'ping', format: 'instant', service: 'orders' }, resources);
    await openPicker('natsmicro-query-instance');
    const option = await screen.findByRole('option', { name: /abc123/ });
    expect(ds.getResource).toHaveBeenCalledWith('services/orders/instances');
    await userEvent.click(option);
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ service: 'orders', instance: 'abc123' }));
  });

  it('resolves a templated service before asking its endpoints', async () => {
    const { ds } = setup({ refId: 'A', queryType: 'stats', format: 'table', service: '$svc' }, resources);
    await openPicker('natsmicro-query-endpoint');
    await screen.findByRole('option', { name: /get/ });
    expect(ds.getResource).toHaveBeenCalledWith('services/orders/endpoints');
  });

  it("shows the backend's error text when a resource call fails", async () => {
    setup({ refId: 'A' }, () => Promise.reject({ status: 502, data: { error: 'no NATS server at nats://x:4222' } }));
    await openPicker('natsmicro-query-service');
    expect((await screen.findByTestId('natsmicro-query-service-error')).textContent).toBe(
      'no NATS server at nats://x:4222'
    );
  });

  it('shows request fields only for request queries', async () => {
    const { rerender, onChange } = setup({ refId: 'A', queryType: 'ping' }, resources);
    expect(screen.queryByTestId('natsmicro-query-subject')).toBeNull();
    expect(screen.getByTestId('natsmicro-query-service')).toBeTruthy();
    await userEvent.click(within(screen.getByTestId('natsmicro-query-type')).getByRole('radio', { name: 'Request' }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'request', format: 'table' });
    rerender(
      <QueryEditor
        query={{ refId: 'A', queryType: 'request', format: 'table' }}
        onChange={onChange}
        onRunQuery={vi.fn()}
        datasource={fakeDatasource(resources) as unknown as NatsMicroApi}
      />
    );
    expect(screen.getByTestId('natsmicro-query-subject')).toBeTruthy();
    expect(screen.getByTestId('natsmicro-query-payload')).toBeTruthy();
    expect(screen.queryByTestId('natsmicro-query-service')).toBeNull();
    await userEvent.click(screen.getByRole('button', { name: /Add header/ }));
    await userEvent.type(screen.getByLabelText('Header 1 name'), 'X-A');
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ headers: { 'X-A': '' } }));
  });

  it('offers only the formats of the query type, and metrics for instant', () => {
    setup({ refId: 'A', queryType: 'info' }, resources);
    const formats = within(screen.getByTestId('natsmicro-query-format')).getAllByRole('radio');
    expect(formats.map((r) => r.closest('div')?.textContent?.trim())).toEqual(['Table']);
    expect(screen.queryByTestId('natsmicro-query-metric')).toBeNull();
  });

  it('offers the Live switch for streaming time series only, on by default, and stores live: false', async () => {
    setup({ refId: 'A', queryType: 'info', format: 'table' }, resources);
    expect(screen.queryByTestId('natsmicro-query-live')).toBeNull();
    cleanup();
    const { onChange } = setup({ refId: 'A', queryType: 'ping', format: 'timeseries', metric: 'rtt' }, resources);
    const live = screen.getByTestId('natsmicro-query-live') as HTMLInputElement;
    expect(live.checked).toBe(true);
    await userEvent.click(live);
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ format: 'timeseries', live: false }));
    cleanup();
    setup({ refId: 'A', queryType: 'ping', format: 'instant', live: false }, resources);
    expect(screen.queryByTestId('natsmicro-query-live')).toBeNull();
  });

  it('offers Aggregate for ping and stats outside tables, stores it, and then hides Live', async () => {
    setup({ refId: 'A', queryType: 'ping', format: 'table' }, resources);
    expect(screen.queryByTestId('natsmicro-query-aggregate')).toBeNull();
    cleanup();
    const { onChange, onRunQuery } = setup({ refId: 'A', queryType: 'stats', format: 'timeseries' }, resources);
    const options = within(screen.getByTestId('natsmicro-query-aggregate')).getAllByRole('radio');
    expect(options.map((r) => r.closest('div')?.textContent?.trim())).toEqual([
      'None',
      'Sum',
      'Avg',
      'Min',
      'Max',
      'Count',
    ]);
    await userEvent.click(within(screen.getByTestId('natsmicro-query-aggregate')).getByRole('radio', { name: 'Avg' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ queryType: 'stats', aggregate: 'avg' }));
    expect(onRunQuery).toHaveBeenCalled();
    cleanup();
    setup({ refId: 'A', queryType: 'stats', format: 'timeseries', aggregate: 'avg' }, resources);
    expect(screen.queryByTestId('natsmicro-query-live')).toBeNull();
  });

  it('offers Objective and Min instances for slo queries, and stores them as numbers', async () => {
    setup({ refId: 'A', queryType: 'ping' }, resources);
    expect(screen.queryByTestId('natsmicro-query-objective')).toBeNull();
    cleanup();
    const { onChange } = setup({ refId: 'A', queryType: 'slo' }, resources);
    const objective = screen.getByTestId('natsmicro-query-objective') as HTMLInputElement;
    expect(objective.value).toBe('0.999');
    fireEvent.change(objective, { target: { value: '0.95' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ queryType: 'slo', objective: 0.95 }));
    const min = screen.getByTestId('natsmicro-query-min-instances') as HTMLInputElement;
    expect(min.value).toBe('1');
    expect(screen.queryByTestId('natsmicro-query-aggregate')).toBeNull();
  });

  it('shows what the query returns', () => {
    setup({ refId: 'A', queryType: 'stats', format: 'instant', metric: 'errors' }, resources);
    expect(screen.getByTestId('natsmicro-query-hint').textContent).toMatch(/Per endpoint.*value: errors/);
  });
});

describe('picker menu waits for the answer', () => {
  it('shows the options once the promise resolves', async () => {
    let resolve: (v: unknown) => void = () => {};
    setup({ refId: 'A' }, () => new Promise((r) => (resolve = r)));
    await openPicker('natsmicro-query-service');
    expect(screen.queryByRole('option', { name: /^late/ })).toBeNull();
    resolve([{ name: 'late', instances: 1, versions: [] }]);
    await waitFor(() => expect(screen.getByRole('option', { name: /^late/ })).toBeTruthy());
  });
});
