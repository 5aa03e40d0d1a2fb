// Baseline for scripts/bench.sh: discovery with the NATS reference services client (@nats-io/services), as a user would write it.
//
//   node baseline.mjs --url nats://127.0.0.1:4222 --verb ping --name fleet --n 100 --runs 50 [--gap-ms 105]
//
// Each run calls `new Svcm(nc).client().<verb>(name)` with the client's defaults (strategy "stall":
// the iterator ends 300 ms after the latest reply, at most 2 s) and drains the iterator. Prints one
// JSON line: {"runs":[{"doneMs":…, "lastReplyMs":…, "replies":…}, …]}; times since the call.
import { connect } from "@nats-io/transport-node";
import { Svcm } from "@nats-io/services";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const url = args.url ?? "nats://127.0.0.1:4222";
const verb = args.verb ?? "ping";
const name = args.name ?? "";
const runs = Number(args.runs ?? 50);
const gapMs = Number(args["gap-ms"] ?? 105);

const nc = await connect({ servers: url });
const client = new Svcm(nc).client();
const out = [];
for (let r = 0; r < runs; r++) {
  await new Promise((res) => setTimeout(res, gapMs));
  const t0 = performance.now();
  let last = 0;
  let replies = 0;
  const iter = await client[verb](name);
  for await (const _ of iter) {
    replies++;
    last = performance.now() - t0;
  }
  out.push({ doneMs: performance.now() - t0, lastReplyMs: last, replies });
}
await nc.close();
console.log(JSON.stringify({ runs: out }));
