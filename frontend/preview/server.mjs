//! Local preview host — NOT Grafana: serves the built plugin frontends in a small host page and answers the Grafana HTTP API subset they use through the real Rust backend.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { datasource, dsQuery, health, pluginSettings, resource } from './api.mjs';
import { DataSourceStore } from './datasource.mjs';
import { startPlugin } from './grpc.mjs';
import { LiveBridge } from './live.mjs';
import { FRONTEND, PLUGIN_IDS, REPO, missingBuilds, pluginFile, pluginMeta } from './plugins.mjs';

const HOST_DIR = join(FRONTEND, 'preview/host');
const BUILD_DIR = join(FRONTEND, 'preview/build');
const SYSTEMJS_DIR = join(FRONTEND, 'node_modules/systemjs/dist');
/** Grafana serves @grafana/ui's icons at public/build/img/icons/…; they ship in the npm package. */
const UI_IMG_DIR = join(FRONTEND, 'node_modules/@grafana/ui/dist/public/img');
/** Icons Grafana keeps in its own public/img that the npm package lacks (the spinner). */
const HOST_ICONS_DIR = join(HOST_DIR, 'icons');
const HOST_ROUTES = new Set(['/', '/config', '/explore', '/dashboard']);
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8',
  '.mjs': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.md': 'text/markdown; charset=utf-8',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
};

function options() {
  const { values } = parseArgs({
    options: {
      plugin: { type: 'string' },
      url: { type: 'string' },
      port: { type: 'string' },
      'json-data': { type: 'string' },
      rebuild: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
  });
  return {
    bin: resolve(values.plugin ?? process.env.NATSMICRO_PLUGIN_BIN ?? join(REPO, 'target/release/gpx_natsmicro')),
    url: values.url ?? process.env.NATSMICRO_URL ?? 'nats://127.0.0.1:4222',
    port: Number(values.port ?? process.env.PREVIEW_PORT ?? 3001),
    jsonData: JSON.parse(values['json-data'] ?? process.env.NATSMICRO_JSON_DATA ?? '{}'),
    rebuild: values.rebuild,
    quiet: values.quiet,
  };
}

/** `window.grafanaBootData`, set by /preview/boot.js before @grafana/runtime is evaluated. */
function bootData(store) {
  const metas = Object.fromEntries(PLUGIN_IDS.map((id) => [id, pluginMeta(id)]));
  const ds = store.toJSON();
  const dsEntry = {
    id: ds.id,
    uid: ds.uid,
    type: ds.type,
    name: ds.name,
    meta: metas[ds.type],
    url: `/api/datasources/proxy/uid/${ds.uid}`,
    isDefault: true,
    access: 'proxy',
    jsonData: ds.jsonData,
    readOnly: false,
  };
  return {
    settings: {
      appUrl: '/',
      appSubUrl: '',
      buildInfo: { version: '12.4.10', commit: 'preview', env: 'production', edition: 'Local preview (not Grafana)' },
      featureToggles: {},
      datasources: { [ds.name]: dsEntry },
      defaultDatasource: ds.name,
      panels: { [metas['natsmicro-ping-panel'].id]: metas['natsmicro-ping-panel'] },
      apps: {},
      liveEnabled: true,
      minRefreshInterval: '1s',
      namespace: 'default',
    },
    user: {
      id: 1,
      uid: '',
      login: 'admin',
      name: 'Admin',
      email: 'admin@localhost',
      isSignedIn: true,
      orgId: 1,
      orgName: 'Main Org.',
      orgRole: 'Admin',
      isGrafanaAdmin: true,
      timezone: 'browser',
      weekStart: 'browser',
      theme: 'dark',
      language: 'en-US',
      permissions: {},
    },
    navTree: [],
    assets: { dark: '', light: '' },
    preview: { metas, notGrafana: true },
  };
}

function readBody(req, limit = 10 * 1024 * 1024) {
  return new Promise((ok, fail) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        fail(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => ok(Buffer.concat(chunks)));
    req.on('error', fail);
  });
}

function sendJSON(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(text);
}

function sendFile(res, path) {
  if (!path || !existsSync(path) || !statSync(path).isFile()) {
    sendJSON(res, 404, { message: 'Not found' });
    return 404;
  }
  res.writeHead(200, {
    'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream',
    'Cache-Control': 'no-cache',
  });
  createReadStream(path).pipe(res);
  return 200;
}

/** A file strictly inside `dir`, or null. */
function inside(dir, rel) {
  const p = normalize(join(dir, rel));
  return p.startsWith(dir + '/') ? p : null;
}

async function route(ctx, req, res, url) {
  const { pathname } = url;
  const method = req.method ?? 'GET';
  let m;
  if (method === 'GET' && HOST_ROUTES.has(pathname)) {
    return sendFile(res, join(HOST_DIR, 'index.html'));
  }
  if (pathname === '/preview/boot.js') {
    res.writeHead(200, { 'Content-Type': TYPES['.js'], 'Cache-Control': 'no-store' });
    res.end(`// Local preview host - not Grafana.\nwindow.grafanaBootData = ${JSON.stringify(bootData(ctx.store))};\n`);
    return 200;
  }
  if ((m = /^\/preview\/build\/(.+)$/.exec(pathname))) {
    return sendFile(res, inside(BUILD_DIR, m[1]));
  }
  if ((m = /^\/public\/vendor\/systemjs\/(.+)$/.exec(pathname))) {
    return sendFile(res, inside(SYSTEMJS_DIR, m[1]));
  }
  if ((m = /^\/public\/(?:build\/)?img\/(.+)$/.exec(pathname))) {
    const own = inside(UI_IMG_DIR, m[1]);
    return sendFile(res, own && existsSync(own) ? own : inside(HOST_ICONS_DIR, m[1].replace(/^icons\//, '')));
  }
  if ((m = /^\/public\/plugins\/([\w-]+)\/(.+)$/.exec(pathname))) {
    return sendFile(res, pluginFile(m[1], decodeURIComponent(m[2])));
  }
  if (!pathname.startsWith('/api/')) {
    sendJSON(res, 404, { message: 'Not found' });
    return 404;
  }
  if (pathname === '/api/live/stream' && method === 'GET') {
    return ctx.live.subscribe(req, res, url.searchParams.get('channel'));
  }
  // A Live endpoint behind a proxy that drops it: the request is never answered (pages opened
  // with `?noLive=1` subscribe here), so the browser's stream stays connecting.
  if (pathname === '/api/live/blocked' && method === 'GET') {
    req.on('close', () => res.destroy());
    return 0;
  }
  if (pathname === '/api/live/stats' && method === 'GET') {
    sendJSON(res, 200, ctx.live.stats());
    return 200;
  }
  if (!ctx.plugin.running && /^\/api\/(ds|datasources\/uid\/[^/]+\/(health|resources))/.test(pathname)) {
    sendJSON(res, 502, { message: 'the backend plugin is not running (see the preview log)' });
    return 502;
  }
  const raw = ['POST', 'PUT', 'PATCH'].includes(method) ? await readBody(req) : Buffer.alloc(0);
  const parse = () => (raw.length ? JSON.parse(raw.toString('utf8')) : {});
  let out;
  if (pathname === '/api/ds/query' && method === 'POST') {
    out = await dsQuery(ctx, parse(), req.headers);
  } else if ((m = /^\/api\/datasources\/uid\/([^/]+)\/health$/.exec(pathname)) && ['GET', 'POST'].includes(method)) {
    out = await health(ctx, m[1]);
  } else if ((m = /^\/api\/datasources\/uid\/([^/]+)\/resources\/?(.*)$/.exec(pathname))) {
    out = await resource(ctx, {
      uid: m[1],
      path: m[2],
      method,
      url: pathname + url.search,
      headers: req.headers,
      body: raw,
    });
  } else if ((m = /^\/api\/datasources\/uid\/([^/]+)$/.exec(pathname)) && ['GET', 'PUT'].includes(method)) {
    out = datasource(ctx, m[1], method, method === 'PUT' ? parse() : undefined);
  } else if (pathname === '/api/datasources' && method === 'GET') {
    out = { status: 200, body: [ctx.store.toJSON()] };
  } else if ((m = /^\/api\/plugins\/([\w-]+)\/settings$/.exec(pathname)) && method === 'GET') {
    out = pluginSettings(Object.fromEntries(PLUGIN_IDS.map((id) => [id, pluginMeta(id)])), m[1]);
  } else if (pathname === '/api/health') {
    out = { status: 200, body: { database: 'ok', version: 'preview', notGrafana: true } };
  } else {
    out = {
      status: 404,
      body: { message: `Not found: the local preview host implements only the API the plugin uses` },
    };
  }
  if (out.raw !== undefined) {
    res.writeHead(out.status, { 'Content-Type': 'application/json', ...out.headers, 'Cache-Control': 'no-store' });
    res.end(out.raw);
  } else {
    sendJSON(res, out.status, out.body);
  }
  return out.status;
}

async function main() {
  const opts = options();
  const log = opts.quiet ? () => {} : (line) => console.log(line);
  const missing = missingBuilds();
  if (missing.length) {
    console.error(`preview: no built frontend for ${missing.join(', ')}: run \`npm run build\` in frontend/ first`);
    process.exit(2);
  }
  if (opts.rebuild || !existsSync(join(BUILD_DIR, 'host.js'))) {
    const { buildHost } = await import('./build.mjs');
    const r = await buildHost();
    console.log(`preview: host app built in ${r.ms.toFixed(0)} ms`);
  }
  const plugin = await startPlugin({
    bin: opts.bin,
    log: (line) => log(`plugin: ${line}`),
  });
  plugin.child.on('exit', (code, signal) =>
    console.error(`preview: backend plugin exited (code ${code}, signal ${signal})`)
  );
  console.log(`preview: backend ${opts.bin} (pid ${plugin.pid}) serving gRPC on ${plugin.addr}`);
  const store = new DataSourceStore({ url: opts.url, jsonData: opts.jsonData });
  const ctx = { plugin, store, live: new LiveBridge({ plugin, store, log }) };

  const server = createServer((req, res) => {
    const t0 = performance.now();
    const url = new URL(req.url ?? '/', 'http://preview');
    route(ctx, req, res, url)
      .catch((e) => {
        const status = e instanceof SyntaxError ? 400 : 500;
        if (!res.headersSent) {
          sendJSON(res, status, { message: status === 400 ? `bad request data: ${e.message}` : e.message });
        }
        return status;
      })
      .then((status) =>
        log(`${req.method} ${url.pathname}${url.search} ${status} ${(performance.now() - t0).toFixed(1)}ms`)
      );
  });
  let stopping = false;
  const stop = async (why) => {
    if (stopping) {
      return;
    }
    stopping = true;
    console.log(`preview: stopping (${why})`);
    ctx.live.close();
    server.close();
    server.closeAllConnections();
    await plugin.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('exit', () => plugin.kill());
  // A parent that goes away (test runner killed) closes our stdin when it is a pipe.
  if (!process.stdin.isTTY && process.env.PREVIEW_WATCH_STDIN === '1') {
    process.stdin.on('end', () => stop('stdin closed'));
    process.stdin.resume();
  }
  server.listen(opts.port, '127.0.0.1', () => {
    const { port } = server.address();
    console.log(`preview: local preview host, NOT Grafana; data source "${ctx.store.name}" → ${ctx.store.url}`);
    console.log(`preview: http://127.0.0.1:${port}/`);
  });
}

main().catch((e) => {
  console.error(`preview: ${e.message}`);
  process.exit(1);
});
