//! Tests of the data source settings editor.
import { DataSourceSettings } from '@grafana/data';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { NatsMicroOptions, NatsMicroSecureJsonData } from '../../common/types';
import { ConfigEditor } from './ConfigEditor';

type Options = DataSourceSettings<NatsMicroOptions, NatsMicroSecureJsonData>;

afterEach(cleanup);

function settings(jsonData: NatsMicroOptions = {}, secureJsonFields: Record<string, boolean> = {}): Options {
  return {
    id: 1,
    uid: 'nats',
    orgId: 1,
    name: 'NATS',
    type: 'natsmicro-datasource',
    typeName: 'NATS Micro',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    database: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    jsonData,
    secureJsonFields,
    readOnly: false,
    withCredentials: false,
  };
}

/** Render with state, like Grafana does, and record every change. */
function setup(initial: Options) {
  const changes: Options[] = [];
  const spy = vi.fn((o: Options) => changes.push(o));
  function Host() {
    const [opts, setOpts] = useState(initial);
    return (
      <ConfigEditor
        options={opts}
        onOptionsChange={(o) => {
          spy(o);
          setOpts(o);
        }}
      />
    );
  }
  render(<Host />);
  return { changes, spy, last: () => changes[changes.length - 1] };
}

describe('ConfigEditor', () => {
  it('stores the server URLs', async () => {
    const { last } = setup(settings());
    const url = screen.getByTestId('natsmicro-config-url');
    expect(url.getAttribute('placeholder')).toBe('nats://localhost:4222');
    await userEvent.type(url, 'nats://a:4222');
    expect(last().url).toBe('nats://a:4222');
  });

  it('shows only the fields of the chosen auth type', async () => {
    const { last } = setup(settings());
    const auth = screen.getByTestId('natsmicro-config-auth');
    expect(screen.queryByTestId('natsmicro-config-password')).toBeNull();
    expect(screen.queryByTestId('natsmicro-config-token')).toBeNull();

    await userEvent.click(within(auth).getByRole('radio', { name: 'User & password' }));
    expect(last().jsonData.authType).toBe('userpass');
    expect(screen.getByTestId('natsmicro-config-username')).toBeTruthy();
    expect(screen.getByTestId('natsmicro-config-password')).toBeTruthy();
    expect(screen.queryByTestId('natsmicro-config-token')).toBeNull();

    await userEvent.click(within(auth).getByRole('radio', { name: 'Token' }));
    expect(screen.getByTestId('natsmicro-config-token')).toBeTruthy();
    expect(screen.queryByTestId('natsmicro-config-password')).toBeNull();
    expect(screen.queryByTestId('natsmicro-config-username')).toBeNull();

    await userEvent.click(within(auth).getByRole('radio', { name: 'NKey' }));
    expect(screen.getByTestId('natsmicro-config-nkeySeed')).toBeTruthy();
    expect(screen.queryByTestId('natsmicro-config-token')).toBeNull();

    await userEvent.click(within(auth).getByRole('radio', { name: 'Credentials file' }));
    const creds = screen.getByTestId('natsmicro-config-credentials');
    expect(creds.tagName).toBe('TEXTAREA');
    fireEvent.change(creds, { target: { value: '-----BEGIN NATS USER JWT-----' } });
    expect(last().secureJsonData?.credentials).toBe('-----BEGIN NATS USER JWT-----');
    expect(last().jsonData).not.toHaveProperty('password');
  });

  it('resets a configured secret the Grafana way', async () => {
    const { last } = setup(settings({ authType: 'token' }, { token: true }));
    // Configured: shown as "configured", not editable, value never sent back.
    const before = screen.getByTestId('natsmicro-config-token') as HTMLInputElement;
    expect(before.disabled).toBe(true);
    expect(before.value).toBe('configured');
    await userEvent.click(screen.getByRole('button', { name: 'Reset' }));
    expect(last().secureJsonFields.token).toBe(false);
    expect(last().secureJsonData?.token).toBe('');
    const after = screen.getByTestId('natsmicro-config-token') as HTMLInputElement;
    expect(after.disabled).toBe(false);
    expect(after.value).toBe('');
  });

  it('TLS switches reveal the PEM fields', async () => {
    setup(settings({ tlsAuth: true, tlsAuthWithCACert: false }));
    expect(screen.getByTestId('natsmicro-config-tlsClientCert')).toBeTruthy();
    expect(screen.getByTestId('natsmicro-config-tlsClientKey')).toBeTruthy();
    expect(screen.queryByTestId('natsmicro-config-tlsCACert')).toBeNull();
  });

  it('stores numbers as numbers and warns out of range', async () => {
    const { last } = setup(settings());
    const timeout = screen.getByTestId('natsmicro-config-timeoutMs');
    await userEvent.type(timeout, '5');
    expect(last().jsonData.timeoutMs).toBe(5);
    expect(screen.getByText(/Use a whole number from 10 to 120000/)).toBeTruthy();
    await userEvent.type(timeout, '00');
    expect(last().jsonData.timeoutMs).toBe(500);
    expect(screen.queryByText(/Use a whole number from 10 to 120000/)).toBeNull();
    await userEvent.clear(timeout);
    expect(last().jsonData.timeoutMs).toBeUndefined();

    await userEvent.type(screen.getByTestId('natsmicro-config-retentionMinutes'), '20000');
    expect(last().jsonData.retentionMinutes).toBe(20000);
    expect(screen.getByText(/from 1 to 10080/)).toBeTruthy();
    await userEvent.type(screen.getByTestId('natsmicro-config-sampleIntervalSec'), '0');
    expect(last().jsonData.sampleIntervalSec).toBe(0);
  });

  it('the History section offers the JetStream store and its keys only when chosen', async () => {
    const { last } = setup(settings());
    expect(screen.getByText('History')).toBeTruthy();
    expect(screen.queryByTestId('natsmicro-config-historyStream')).toBeNull();
    await userEvent.click(screen.getByLabelText('JetStream'));
    expect(last().jsonData.historyStore).toBe('jetstream');
    const stream = screen.getByTestId('natsmicro-config-historyStream');
    expect(stream.getAttribute('placeholder')).toBe('NATSMICRO_HISTORY');
    await userEvent.type(stream, 'FLEET.X');
    expect(last().jsonData.historyStream).toBe('FLEET.X');
    expect(screen.getByText(/Use up to 48 letters, digits/)).toBeTruthy();
    await userEvent.type(screen.getByTestId('natsmicro-config-historyReplicas'), '7');
    expect(last().jsonData.historyReplicas).toBe(7);
    expect(screen.getByText(/from 1 to 5 replicas/)).toBeTruthy();
    await userEvent.type(screen.getByTestId('natsmicro-config-historyMaxBytes'), '1048576');
    expect(last().jsonData.historyMaxBytes).toBe(1048576);
    await userEvent.click(screen.getByLabelText('Memory'));
    expect(last().jsonData.historyStore).toBe('memory');
    expect(screen.queryByTestId('natsmicro-config-historyStream')).toBeNull();
  });

  it('stores requestSubjects as an array', async () => {
    const { last } = setup(settings({ requestSubjects: ['orders.get'] }));
    const input = within(screen.getByTestId('natsmicro-config-requestSubjects')).getByRole('textbox');
    await userEvent.type(input, 'inventory.>{Enter}');
    expect(last().jsonData.requestSubjects).toEqual(['orders.get', 'inventory.>']);
    await userEvent.type(input, 'a.b, c.*{Enter}');
    expect(last().jsonData.requestSubjects).toEqual(['orders.get', 'inventory.>', 'a.b', 'c.*']);
    await userEvent.type(input, 'bad..x{Enter}');
    expect(screen.getByText(/Not valid subject patterns: bad..x/)).toBeTruthy();
  });
});
