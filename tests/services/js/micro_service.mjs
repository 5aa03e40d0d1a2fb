// A real @nats-io/services micro service for the integration tests: one instance, endpoints
// `get` (callback; every 3rd request throws a ServiceError) and `work`, and a statsHandler that
// puts custom data into STATS: {queue: {depth, name}, jobs_total, busy}. jobs_total counts the
// requests to `work`; queue.depth is set by the payload of a `work` request (a number).
// Usage: node micro_service.mjs --url nats://127.0.0.1:4222 --name orders --version 1.0.0
// Prints `READY <id>`, runs until stdin closes.
import { connect } from '@nats-io/transport-node';
import { Svcm, ServiceError } from '@nats-io/services';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), [])
);
// Credentials written in the URL become connect options (the server list carries none).
const url = new URL(args.url);
const auth = url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : {};
const nc = await connect({ servers: `${url.hostname}:${url.port || 4222}`, ...auth });
let depth = 0;
let jobs = 0;
let n = 0;
const service = await new Svcm(nc).add({
  name: args.name ?? 'orders',
  version: args.version ?? '1.0.0',
  description: 'JS test service',
  metadata: { impl: 'js' },
  statsHandler: async (endpoint) =>
    endpoint.name === 'work' ? { queue: { depth, name: 'jobs' }, jobs_total: jobs, busy: depth > 0 } : null,
});
service.addEndpoint('get', {
  handler: (err, msg) => {
    n += 1;
    if (n % 3 === 0) {
      throw new ServiceError(500, `simulated failure (request ${n})`);
    }
    msg.respond(JSON.stringify({ ok: true, n }));
  },
});
service.addEndpoint('work', {
  handler: (err, msg) => {
    jobs += 1;
    const v = Number(new TextDecoder().decode(msg.data));
    if (Number.isFinite(v)) {
      depth = v;
    }
    msg.respond(JSON.stringify({ jobs, depth }));
  },
});
await nc.flush();
process.stdout.write(`READY ${service.info().id}\n`);
process.stdin.resume();
process.stdin.on('end', async () => {
  await service.stop();
  await nc.close();
  process.exit(0);
});
