//! Runs the backend plugin binary the way Grafana does (go-plugin handshake) and talks `pluginv2` gRPC to it.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO = join(dirname(fileURLToPath(import.meta.url)), 'backend.proto');
const HANDSHAKE_TIMEOUT_MS = 10000;

/** Parse go-plugin's handshake line `1|2|tcp|127.0.0.1:PORT|grpc` into `host:port`. */
export function parseHandshake(line) {
  const parts = line.trim().split('|');
  if (parts.length !== 5 || parts[0] !== '1' || parts[1] !== '2' || parts[2] !== 'tcp' || parts[4] !== 'grpc') {
    throw new Error(`bad handshake line ${JSON.stringify(line)}`);
  }
  return parts[3];
}

function loadPackage() {
  const definition = protoLoader.loadSync(PROTO, {
    keepCase: true,
    longs: Number,
    enums: Number,
    bytes: Buffer,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).pluginv2;
}

function unary(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, (err, reply) => (err ? reject(err) : resolve(reply)));
  });
}

/**
 * Start the plugin: env as Grafana sets it, wait for the handshake line, connect the clients.
 * `log(line)` receives the plugin's stderr (hclog-style JSON) line by line.
 */
export async function startPlugin({ bin, env = {}, log = () => {} }) {
  const child = spawn(bin, [], {
    env: { ...process.env, ...env, grafana_plugin_type: 'datasource', PLUGIN_PROTOCOL_VERSIONS: '2' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  createInterface({ input: child.stderr }).on('line', log);
  const lines = createInterface({ input: child.stdout });
  const addr = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no handshake from ${bin} within ${HANDSHAKE_TIMEOUT_MS} ms`)),
      HANDSHAKE_TIMEOUT_MS
    );
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(
        new Error(`cannot start plugin ${bin}: ${e.message} (build it: cargo build --release --bin gpx_natsmicro)`)
      );
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`plugin ${bin} exited before the handshake (code ${code}, signal ${signal})`));
    });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(parseHandshake(line));
      } catch (e) {
        reject(e);
      }
    });
  });
  // Keep draining stdout so the plugin never blocks on a full pipe.
  lines.on('line', () => {});

  const pkg = loadPackage();
  const credentials = grpc.credentials.createInsecure();
  const data = new pkg.Data(addr, credentials);
  const diagnostics = new pkg.Diagnostics(addr, credentials);
  const resource = new pkg.Resource(addr, credentials);
  const live = new pkg.Stream(addr, credentials);
  const controller = new grpc.Client(addr, credentials);
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });

  return {
    addr,
    pid: child.pid,
    child,
    get running() {
      return !exited;
    },
    queryData: (request) => unary(data, 'QueryData', request),
    checkHealth: (request) => unary(diagnostics, 'CheckHealth', request),
    /** Server-streaming; Grafana answers with the first message's code/headers and the concatenated bodies. */
    callResource: (request) =>
      new Promise((resolve, reject) => {
        const stream = resource.CallResource(request);
        let first = null;
        const bodies = [];
        stream.on('data', (msg) => {
          first = first ?? msg;
          bodies.push(msg.body);
        });
        stream.on('error', reject);
        stream.on('end', () => {
          if (!first) {
            reject(new Error('empty resource stream'));
            return;
          }
          resolve({ code: first.code, headers: first.headers, body: Buffer.concat(bodies) });
        });
      }),
    /** `Stream/SubscribeStream`: `{status (0 OK, 1 NOT_FOUND, 2 PERMISSION_DENIED), data: Buffer}`. */
    subscribeStream: (request) => unary(live, 'SubscribeStream', request),
    /** `Stream/RunStream`: the gRPC call (a readable of `{data: Buffer}` packets); `.cancel()` ends it. */
    runStream: (request) => live.RunStream(request),
    /** `plugin.GRPCController/Shutdown`, then kill if the plugin is still there after `graceMs`. */
    async stop(graceMs = 1000) {
      if (exited) {
        return;
      }
      const gone = new Promise((resolve) => child.once('exit', resolve));
      const empty = () => Buffer.alloc(0);
      controller.makeUnaryRequest('/plugin.GRPCController/Shutdown', empty, empty, {}, () => {});
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
      for (const c of [data, diagnostics, resource, live, controller]) {
        c.close();
      }
    },
    /** Synchronous last resort for `process.on('exit')`. */
    kill() {
      if (!exited) {
        child.kill('SIGKILL');
      }
    },
  };
}
