//! The preview's one data source, kept in memory with Grafana's rules: secrets are write-only, saves bump version and lastUpdated.

export const DS_UID = 'natsmicro';
export const DS_TYPE = 'natsmicro-datasource';
export const DS_NAME = 'NATS Micro';

export class DataSourceStore {
  constructor({ url = '', jsonData = {}, secureJsonData = {} } = {}) {
    this.id = 1;
    this.uid = DS_UID;
    this.name = DS_NAME;
    this.type = DS_TYPE;
    this.url = url;
    this.jsonData = { ...jsonData };
    this.secure = Object.fromEntries(Object.entries(secureJsonData).filter(([, v]) => v !== ''));
    this.version = 1;
    this.updatedMs = Date.now();
  }

  /** `GET /api/datasources/uid/:uid`: Grafana's DataSourceSettings, secrets only as `secureJsonFields`. */
  toJSON() {
    return {
      id: this.id,
      uid: this.uid,
      orgId: 1,
      name: this.name,
      type: this.type,
      typeName: 'NATS Micro',
      typeLogoUrl: `public/plugins/${this.type}/img/logo.svg`,
      access: 'proxy',
      url: this.url,
      user: '',
      database: '',
      basicAuth: false,
      basicAuthUser: '',
      withCredentials: false,
      isDefault: true,
      jsonData: this.jsonData,
      secureJsonFields: Object.fromEntries(Object.keys(this.secure).map((k) => [k, true])),
      version: this.version,
      readOnly: false,
    };
  }

  /**
   * `PUT /api/datasources/uid/:uid`. `secureJsonData` merges into the stored secrets: a key with a
   * non-empty value sets it, an empty string deletes it, absent keys are kept. Returns an error text or null.
   */
  update(body) {
    if (!body || typeof body !== 'object') {
      return 'body must be a JSON object';
    }
    if (body.version !== undefined && Number(body.version) < this.version) {
      return `data source has already been updated by someone else (version ${body.version} < ${this.version})`;
    }
    if (typeof body.url === 'string') {
      this.url = body.url;
    }
    if (typeof body.name === 'string' && body.name.trim()) {
      this.name = body.name.trim();
    }
    if (body.jsonData && typeof body.jsonData === 'object') {
      this.jsonData = { ...body.jsonData };
    }
    for (const [k, v] of Object.entries(body.secureJsonData ?? {})) {
      if (v === '' || v === null) {
        delete this.secure[k];
      } else {
        this.secure[k] = String(v);
      }
    }
    this.version += 1;
    this.updatedMs = Math.max(Date.now(), this.updatedMs + 1);
    return null;
  }

  /** `pluginv2.PluginContext` for a request, as Grafana builds it (decrypted secrets only here). */
  pluginContext(role = 'Admin') {
    return {
      orgId: 1,
      pluginId: this.type,
      user: { login: 'admin', name: 'Admin', email: 'admin@localhost', role },
      dataSourceInstanceSettings: {
        id: this.id,
        uid: this.uid,
        name: this.name,
        url: this.url,
        jsonData: Buffer.from(JSON.stringify(this.jsonData)),
        decryptedSecureJsonData: { ...this.secure },
        lastUpdatedMS: this.updatedMs,
      },
    };
  }
}
