//! Data source settings editor: NATS server URLs, authentication, TLS, and advanced options (SPEC "Data source settings").
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import {
  FieldSet,
  InlineField,
  InlineFieldRow,
  InlineSwitch,
  Input,
  RadioButtonGroup,
  SecretInput,
  SecretTextArea,
  TagsInput,
} from '@grafana/ui';
import { getBackendSrv } from '@grafana/runtime';
import { FormEvent, useMemo } from 'react';

import { probeTestPath, resourceErrorMessage } from '../data/resources';
import {
  NumberKey,
  parseNumber,
  rangeError,
  splitSubjects,
  validStreamName,
  validSubjectPattern,
} from '../data/settings';
import {
  AUTH_TYPES,
  AuthType,
  DEFAULT_HISTORY_MAX_BYTES,
  DEFAULT_HISTORY_REPLICAS,
  DEFAULT_HISTORY_STREAM,
  DEFAULT_INBOX_PREFIX,
  DEFAULT_MAX_ROUND_BYTES,
  DEFAULT_SLOW_MS,
  DEFAULT_RETENTION_MINUTES,
  DEFAULT_SAMPLE_INTERVAL_SEC,
  DEFAULT_SRV_PREFIX,
  DEFAULT_TIMEOUT_MS,
  HISTORY_STORES,
  HistoryStore,
  NatsMicroOptions,
  NatsMicroSecureJsonData,
  ProbeTestResult,
} from '../../common/types';
import { ProbesEditor } from './ProbesEditor';

type Props = DataSourcePluginOptionsEditorProps<NatsMicroOptions, NatsMicroSecureJsonData>;
type SecretKey = keyof NatsMicroSecureJsonData;

const LABEL_WIDTH = 26;

/** How each auth type is offered; which types exist is the contract's (`AUTH_TYPES`). */
const AUTH_TEXT: Record<AuthType, { label: string; description: string }> = {
  none: { label: 'None', description: 'No credentials, or credentials written in the server URL' },
  userpass: { label: 'User & password', description: 'NATS user with a password' },
  token: { label: 'Token', description: 'NATS authorization token' },
  nkey: { label: 'NKey', description: 'NKey user seed (SU…)' },
  creds: { label: 'Credentials file', description: 'Decentralised JWT auth: text of a .creds file' },
};

/** How each history store is offered; which stores exist is the contract's (`HISTORY_STORES`). */
const STORE_TEXT: Record<HistoryStore, { label: string; description: string }> = {
  memory: {
    label: 'Memory',
    description: 'In the plugin process: nothing to set up; lost on restart; each Grafana replica samples on its own',
  },
  jetstream: {
    label: 'JetStream',
    description:
      'A JetStream stream on this NATS account: survives restarts; every Grafana replica shares one sampler and one history',
  },
};

const STORE_OPTIONS = HISTORY_STORES.map((value) => ({ value, ...STORE_TEXT[value] }));

const AUTH_OPTIONS: Array<{ value: AuthType; label: string; description: string }> = AUTH_TYPES.map((value) => ({
  value,
  ...AUTH_TEXT[value],
}));

export function ConfigEditor(props: Props) {
  const { options, onOptionsChange } = props;
  const jsonData = options.jsonData ?? {};
  const secureFields = (options.secureJsonFields ?? {}) as Record<string, boolean>;
  const secureData = (options.secureJsonData ?? {}) as NatsMicroSecureJsonData;
  const authType: AuthType = jsonData.authType ?? 'none';

  // What was saved: Grafana bumps `version` on every save.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const savedProbes = useMemo(() => jsonData.probes ?? [], [options.version]);

  const setJson = (patch: Partial<NatsMicroOptions>) =>
    onOptionsChange({ ...options, jsonData: { ...jsonData, ...patch } });

  const setSecret = (key: SecretKey) => (e: FormEvent<HTMLInputElement | HTMLTextAreaElement>) =>
    onOptionsChange({ ...options, secureJsonData: { ...secureData, [key]: e.currentTarget.value } });

  /** Grafana's reset pattern: forget the stored secret, send an empty one. */
  const resetSecret = (key: SecretKey) => () =>
    onOptionsChange({
      ...options,
      secureJsonFields: { ...options.secureJsonFields, [key]: false },
      secureJsonData: { ...secureData, [key]: '' },
    });

  const secretInput = (key: SecretKey, label: string, tooltip: string, placeholder: string) => (
    <InlineFieldRow>
      <InlineField label={label} labelWidth={LABEL_WIDTH} tooltip={tooltip}>
        <SecretInput
          id={`natsmicro-config-${key}`}
          data-testid={`natsmicro-config-${key}`}
          width={40}
          placeholder={placeholder}
          isConfigured={Boolean(secureFields[key])}
          value={secureData[key] ?? ''}
          onChange={setSecret(key)}
          onReset={resetSecret(key)}
        />
      </InlineField>
    </InlineFieldRow>
  );

  const tlsSwitch = (key: 'tlsAuth' | 'tlsAuthWithCACert' | 'tlsSkipVerify', label: string, tooltip: string) => (
    <InlineField label={label} labelWidth={LABEL_WIDTH} tooltip={tooltip}>
      <InlineSwitch
        id={`natsmicro-config-${key}`}
        value={Boolean(jsonData[key])}
        onChange={(e) => setJson({ [key]: e.currentTarget.checked })}
      />
    </InlineField>
  );

  const secretTextArea = (key: SecretKey, label: string, tooltip: string, placeholder: string) => (
    <InlineFieldRow>
      <InlineField label={label} labelWidth={LABEL_WIDTH} tooltip={tooltip}>
        <SecretTextArea
          id={`natsmicro-config-${key}`}
          data-testid={`natsmicro-config-${key}`}
          cols={60}
          rows={6}
          placeholder={placeholder}
          isConfigured={Boolean(secureFields[key])}
          value={secureData[key] ?? ''}
          onChange={setSecret(key)}
          onReset={resetSecret(key)}
        />
      </InlineField>
    </InlineFieldRow>
  );

  const numberField = (key: NumberKey, label: string, tooltip: string, def: number, unit: string) => {
    const value = jsonData[key];
    const error = rangeError(key, value, unit);
    return (
      <InlineFieldRow>
        <InlineField label={label} labelWidth={LABEL_WIDTH} tooltip={tooltip} invalid={Boolean(error)} error={error}>
          <Input
            id={`natsmicro-config-${key}`}
            data-testid={`natsmicro-config-${key}`}
            type="number"
            width={20}
            placeholder={String(def)}
            value={value === undefined || Number.isNaN(value) ? '' : String(value)}
            onChange={(e) => setJson({ [key]: parseNumber(e.currentTarget.value) })}
          />
        </InlineField>
      </InlineFieldRow>
    );
  };

  const stream = jsonData.historyStream ?? '';
  const streamError = stream && !validStreamName(stream) ? 'Use up to 48 letters, digits, _ or -' : undefined;

  const subjects = jsonData.requestSubjects ?? [];
  const badSubjects = subjects.filter((s) => !validSubjectPattern(s));

  return (
    <div>
      <FieldSet label="Connection">
        <InlineFieldRow>
          <InlineField
            label="Server URLs"
            labelWidth={LABEL_WIDTH}
            grow
            tooltip="One or more NATS servers, comma separated: nats://, tls://, ws:// or wss:// (host:port means nats://). Credentials written in a URL (nats://user:pass@host, nats://token@host) are used when authentication is None."
          >
            <Input
              id="natsmicro-config-url"
              data-testid="natsmicro-config-url"
              placeholder="nats://localhost:4222"
              value={options.url ?? ''}
              onChange={(e) => onOptionsChange({ ...options, url: e.currentTarget.value })}
            />
          </InlineField>
        </InlineFieldRow>
      </FieldSet>

      <FieldSet label="Authentication">
        <InlineFieldRow>
          <InlineField
            label="Method"
            labelWidth={LABEL_WIDTH}
            tooltip="How this data source logs in to NATS. Only one method at a time; with credentials in the URL keep this on None."
          >
            <div data-testid="natsmicro-config-auth">
              <RadioButtonGroup<AuthType>
                options={AUTH_OPTIONS}
                value={authType}
                onChange={(v) => setJson({ authType: v })}
              />
            </div>
          </InlineField>
        </InlineFieldRow>
        {authType === 'userpass' && (
          <>
            <InlineFieldRow>
              <InlineField
                label="Username"
                labelWidth={LABEL_WIDTH}
                tooltip="NATS user name (server authorization users or an account user)"
              >
                <Input
                  id="natsmicro-config-username"
                  data-testid="natsmicro-config-username"
                  width={40}
                  value={jsonData.username ?? ''}
                  onChange={(e) => setJson({ username: e.currentTarget.value })}
                />
              </InlineField>
            </InlineFieldRow>
            {secretInput('password', 'Password', 'Password of that NATS user; stored encrypted by Grafana', 'Password')}
          </>
        )}
        {authType === 'token' &&
          secretInput(
            'token',
            'Token',
            'The authorization token the NATS server expects (authorization { token: … })',
            'Token'
          )}
        {authType === 'nkey' &&
          secretInput(
            'nkeySeed',
            'NKey seed',
            'The user NKey seed, starting with SU (58 characters), as printed by nk -gen user',
            'SU…'
          )}
        {authType === 'creds' &&
          secretTextArea(
            'credentials',
            'Credentials',
            'Paste the whole text of a .creds file (nsc generate creds): the NATS USER JWT block and the USER NKEY SEED block',
            '-----BEGIN NATS USER JWT-----\n…\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n…'
          )}
      </FieldSet>

      <FieldSet label="TLS">
        <InlineFieldRow>
          {tlsSwitch(
            'tlsAuth',
            'Client certificate',
            "Present a client certificate (mutual TLS, e.g. verify: true or verify_and_map in the server's tls block)"
          )}
          {tlsSwitch(
            'tlsAuthWithCACert',
            'With CA certificate',
            'Trust only this CA for the server certificate (for servers signed by a private CA)'
          )}
          {tlsSwitch(
            'tlsSkipVerify',
            'Skip verification',
            'Accept any server certificate. Insecure: use only for testing'
          )}
        </InlineFieldRow>
        {jsonData.tlsAuthWithCACert &&
          secretTextArea(
            'tlsCACert',
            'CA certificate',
            'PEM text of the CA that signed the NATS server certificate',
            '-----BEGIN CERTIFICATE-----'
          )}
        {jsonData.tlsAuth && (
          <>
            {secretTextArea(
              'tlsClientCert',
              'Client certificate',
              'PEM text of the client certificate this data source presents',
              '-----BEGIN CERTIFICATE-----'
            )}
            {secretTextArea(
              'tlsClientKey',
              'Client key',
              'PEM text of the private key of that client certificate',
              '-----BEGIN PRIVATE KEY-----'
            )}
          </>
        )}
      </FieldSet>

      <FieldSet label="Advanced">
        <InlineFieldRow>
          <InlineField
            label="API prefix"
            labelWidth={LABEL_WIDTH}
            tooltip="Subject prefix of the micro service API (ADR-32); services started with a custom prefix answer on <prefix>.PING etc. Default $SRV"
          >
            <Input
              id="natsmicro-config-srvPrefix"
              data-testid="natsmicro-config-srvPrefix"
              width={20}
              placeholder={DEFAULT_SRV_PREFIX}
              value={jsonData.srvPrefix ?? ''}
              onChange={(e) => setJson({ srvPrefix: e.currentTarget.value })}
            />
          </InlineField>
        </InlineFieldRow>
        <InlineFieldRow>
          <InlineField
            label="Inbox prefix"
            labelWidth={LABEL_WIDTH}
            tooltip="Prefix of reply subjects; users whose permissions only allow their own inbox (e.g. _INBOX_grafana) need it. Default _INBOX"
          >
            <Input
              id="natsmicro-config-inboxPrefix"
              data-testid="natsmicro-config-inboxPrefix"
              width={20}
              placeholder={DEFAULT_INBOX_PREFIX}
              value={jsonData.inboxPrefix ?? ''}
              onChange={(e) => setJson({ inboxPrefix: e.currentTarget.value })}
            />
          </InlineField>
        </InlineFieldRow>
        {numberField(
          'timeoutMs',
          'Timeout (ms)',
          'Longest wait for the replies of a discovery ($SRV.PING/INFO/STATS) or a request, 10 to 120000 ms. Default 2000',
          DEFAULT_TIMEOUT_MS,
          'milliseconds'
        )}
        {numberField(
          'slowMs',
          'Slow above (ms)',
          'An instance that answers a PING slower than this is shown as slow (state 1) instead of up. 1 to 600000 ms. Default 1000',
          DEFAULT_SLOW_MS,
          'milliseconds'
        )}
        {numberField(
          'maxRoundBytes',
          'Max round bytes',
          'Byte budget of the replies of one discovery round; a round that reaches it stops and says so, and a single reply larger than a 64th of it is skipped unread. 65536 to 1073741824. Default 16777216 (16 MiB)',
          DEFAULT_MAX_ROUND_BYTES,
          'bytes'
        )}
        <InlineFieldRow>
          <InlineField
            label="Request subjects"
            labelWidth={LABEL_WIDTH}
            tooltip="Subjects that request queries may send to; * matches one token, > the rest (e.g. orders.get, inventory.>). Empty = request queries are refused. Press Enter after each pattern; commas split."
            invalid={badSubjects.length > 0}
            error={badSubjects.length ? `Not valid subject patterns: ${badSubjects.join(', ')}` : undefined}
          >
            <div data-testid="natsmicro-config-requestSubjects">
              <TagsInput
                id="natsmicro-config-requestSubjects-input"
                placeholder="orders.get, inventory.>"
                tags={subjects}
                addOnBlur
                autoColors={false}
                onChange={(tags) =>
                  setJson({ requestSubjects: tags.flatMap(splitSubjects).filter((t, i, all) => all.indexOf(t) === i) })
                }
              />
            </div>
          </InlineField>
        </InlineFieldRow>
      </FieldSet>

      <FieldSet label="History">
        <p style={{ maxWidth: 800 }}>
          The sampler pings every service each sample interval and keeps the results: time series, events, down
          detection and alert rules read them. Keep them in memory for one Grafana, or in JetStream when Grafana runs
          several replicas or must keep its history across restarts.
        </p>
        {numberField(
          'sampleIntervalSec',
          'Sample interval (s)',
          'How often the background sampler pings the services to build history; 0 turns history off. 0 to 86400 s. Default 15',
          DEFAULT_SAMPLE_INTERVAL_SEC,
          'seconds'
        )}
        {numberField(
          'retentionMinutes',
          'Retention (min)',
          'How much sampled history is kept (also the MaxAge of a JetStream stream the plugin creates), 1 to 10080 minutes (one week). Default 60',
          DEFAULT_RETENTION_MINUTES,
          'minutes'
        )}
        <InlineFieldRow>
          <InlineField
            label="Store"
            labelWidth={LABEL_WIDTH}
            tooltip="Memory: in the plugin process (lost on restart, one sampler per Grafana replica). JetStream: a stream on this NATS account, created if missing; one sampler across all replicas holds a lease in the bucket <stream>_LEASE. Without JetStream the plugin keeps the history in memory and the health check says why."
          >
            <div data-testid="natsmicro-config-historyStore">
              <RadioButtonGroup
                options={STORE_OPTIONS}
                value={jsonData.historyStore ?? 'memory'}
                onChange={(v) => setJson({ historyStore: v })}
              />
            </div>
          </InlineField>
        </InlineFieldRow>
        {jsonData.historyStore === 'jetstream' && (
          <>
            <InlineFieldRow>
              <InlineField
                label="Stream"
                labelWidth={LABEL_WIDTH}
                tooltip="Name of the JetStream stream (letters, digits, _ and -); its subjects are <stream>.>, its lease bucket <stream>_LEASE. An existing stream is used as it is; the health check names what differs. Default NATSMICRO_HISTORY"
                invalid={Boolean(streamError)}
                error={streamError}
              >
                <Input
                  id="natsmicro-config-historyStream"
                  data-testid="natsmicro-config-historyStream"
                  width={30}
                  placeholder={DEFAULT_HISTORY_STREAM}
                  value={jsonData.historyStream ?? ''}
                  onChange={(e) => setJson({ historyStream: e.currentTarget.value })}
                />
              </InlineField>
            </InlineFieldRow>
            {numberField(
              'historyMaxBytes',
              'Stream max bytes',
              `Size bound of the stream (MaxBytes) when the plugin creates it; the oldest samples go first. ${DEFAULT_HISTORY_MAX_BYTES} (1 GiB) by default`,
              DEFAULT_HISTORY_MAX_BYTES,
              'bytes'
            )}
            {numberField(
              'historyReplicas',
              'Stream replicas',
              'Copies of the stream in a JetStream cluster when the plugin creates it: 1 for a single server, 3 for a cluster of three. Default 1',
              DEFAULT_HISTORY_REPLICAS,
              'replicas'
            )}
          </>
        )}
      </FieldSet>

      <FieldSet label="Probes">
        <p style={{ maxWidth: 800 }}>
          Synthetic checks the sampler runs every sample interval: a request to an allowed subject, judged by its
          latency (warn, crit), an optional assertion on the JSON reply, and the service-error headers. Query them with
          the Probe query type (latency, success, state) and alert on them.
        </p>
        <ProbesEditor
          probes={jsonData.probes ?? []}
          saved={savedProbes}
          onChange={(probes) => setJson({ probes })}
          test={options.uid ? (name) => testProbe(options.uid, name) : undefined}
        />
      </FieldSet>
    </div>
  );
}

/** Run one saved probe once through the backend. */
async function testProbe(uid: string, name: string): Promise<ProbeTestResult> {
  try {
    return await getBackendSrv().post<ProbeTestResult>(
      `/api/datasources/uid/${uid}/resources/${probeTestPath(name)}`,
      {},
      {
        showErrorAlert: false,
      }
    );
  } catch (e) {
    throw new Error(resourceErrorMessage(e));
  }
}
