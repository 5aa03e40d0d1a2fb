//! The subset of Grafana's HTTP API the plugin frontends call, answered through the backend plugin over gRPC.
import { dataResponseToJSON } from './frames.mjs';

const UNITS_MS = { s: 1000, m: 60000, h: 3600000, d: 86400000, w: 604800000 };

/** A time of /api/ds/query (`"1700000000000"`, `"now"`, `"now-5m"`) as epoch ms. */
export function parseTime(value, now = Date.now()) {
  if (value === undefined || value === null || value === '') {
    return now;
  }
  const text = String(value).trim();
  if (/^\d+$/.test(text)) {
    return Number(text);
  }
  const m = /^now(?:([+-])(\d+)([smhdw]))?$/.exec(text);
  if (!m) {
    throw new Error(`cannot parse time '${text}'`);
  }
  if (!m[1]) {
    return now;
  }
  const delta = Number(m[2]) * UNITS_MS[m[3]];
  return m[1] === '-' ? now - delta : now + delta;
}

const json = (status, body) => ({ status, body });
const notFound = () => json(404, { message: 'Data source not found' });

/** `POST /api/ds/query` → QueryData; per-refId results, HTTP 400 when any refId failed (Grafana's default). */
export async function dsQuery({ store, plugin }, body, headers = {}) {
  if (!body || !Array.isArray(body.queries) || body.queries.length === 0) {
    return json(400, { message: 'No queries found in query' });
  }
  let from;
  let to;
  try {
    from = parseTime(body.from ?? 'now-6h');
    to = parseTime(body.to ?? 'now');
  } catch (e) {
    return json(400, { message: e.message });
  }
  const results = {};
  const queries = [];
  for (const q of body.queries) {
    const refId = q.refId || 'A';
    const uid = q.datasource?.uid ?? store.uid;
    if (uid !== store.uid && q.datasource?.type !== store.type) {
      results[refId] = { status: 404, error: `data source ${JSON.stringify(uid)} not found` };
      continue;
    }
    queries.push({
      refId,
      maxDataPoints: Number(q.maxDataPoints ?? 100),
      intervalMS: Number(q.intervalMs ?? 1000),
      timeRange: { fromEpochMS: from, toEpochMS: to },
      json: Buffer.from(JSON.stringify(q)),
      queryType: q.queryType ?? '',
    });
  }
  if (queries.length) {
    const forwarded = {};
    // Grafana marks alert evaluations with this header; a client of the preview may simulate one.
    if (String(headers.fromalert ?? '').toLowerCase() === 'true') {
      forwarded.FromAlert = 'true';
    }
    const reply = await plugin.queryData({ pluginContext: store.pluginContext(), headers: forwarded, queries });
    for (const [refId, response] of Object.entries(reply.responses ?? {})) {
      try {
        results[refId] = dataResponseToJSON(response);
      } catch (e) {
        results[refId] = { status: 500, error: `preview could not decode frames: ${e.message}` };
      }
    }
  }
  const failed = Object.values(results).some((r) => r.error);
  return json(failed ? 400 : 200, { results });
}

/** `GET|POST /api/datasources/uid/:uid/health` → CheckHealth; 200 when OK, 400 otherwise (as Grafana). */
export async function health({ store, plugin }, uid) {
  if (uid !== store.uid) {
    return notFound();
  }
  const r = await plugin.checkHealth({ pluginContext: store.pluginContext(), headers: {} });
  const ok = r.status === 1;
  const payload = { status: ok ? 'OK' : r.status === 2 ? 'ERROR' : 'UNKNOWN', message: r.message };
  if (r.jsonDetails && r.jsonDetails.length) {
    try {
      payload.details = JSON.parse(Buffer.from(r.jsonDetails).toString('utf8'));
    } catch {
      // Grafana drops details that are not JSON.
    }
  }
  return json(ok ? 200 : 400, payload);
}

/** `/api/datasources/uid/:uid/resources/*` → CallResource; status, content type and body passed through. */
export async function resource({ store, plugin }, { uid, path, method, url, headers, body }) {
  if (uid !== store.uid) {
    return notFound();
  }
  const forwarded = {};
  for (const [k, v] of Object.entries(headers)) {
    if (/^(accept|content-type|x-grafana-.*|x-plugin-id|x-datasource-uid)$/i.test(k)) {
      forwarded[k] = { values: [String(v)] };
    }
  }
  // Reads come from any user (template variables: a Viewer); writes (the probe test button) from
  // the settings page, which Grafana shows to Admins only.
  const role = String(method ?? 'GET').toUpperCase() === 'GET' ? 'Viewer' : 'Admin';
  const r = await plugin.callResource({
    pluginContext: store.pluginContext(role),
    path,
    method,
    url,
    headers: forwarded,
    body: body ?? Buffer.alloc(0),
  });
  const out = {};
  for (const [k, list] of Object.entries(r.headers ?? {})) {
    if (list.values?.length) {
      out[k] = list.values.join(', ');
    }
  }
  return { status: r.code || 200, raw: r.body, headers: out };
}

/** `GET /api/datasources/uid/:uid` and `PUT` (save, Grafana's merge rules for secrets). */
export function datasource({ store }, uid, method, body) {
  if (uid !== store.uid) {
    return notFound();
  }
  if (method === 'PUT') {
    const error = store.update(body);
    if (error) {
      return json(error.includes('updated by someone else') ? 409 : 400, { message: error });
    }
    return json(200, { datasource: store.toJSON(), id: store.id, message: 'Datasource updated', name: store.name });
  }
  return json(200, store.toJSON());
}

/** `GET /api/plugins/:id/settings`: enough of Grafana's PluginMeta for a frontend. */
export function pluginSettings(metas, id) {
  const meta = metas[id];
  if (!meta) {
    return json(404, { message: 'Plugin not found, no installed plugin with that id' });
  }
  return json(200, {
    ...meta,
    enabled: true,
    pinned: false,
    hasUpdate: false,
    jsonData: {},
    secureJsonFields: {},
    defaultNavUrl: '',
    state: '',
    signature: 'unsigned',
    signatureType: '',
    signatureOrg: '',
  });
}
