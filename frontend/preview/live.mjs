//! Grafana Live for the preview: `GET /api/live/stream?channel=ds/<uid>/<path>` as Server-Sent Events, answered by the plugin's SubscribeStream (once per subscriber) and ONE shared RunStream per channel.
//
// What Grafana does and this bridge copies: every new subscriber of a plugin channel gets
// SubscribeStream's answer (a refusal, or the initial data: the history the plugin holds); the first
// subscriber of a channel starts RunStream, later ones share its packets; when the last one leaves,
// the RunStream call is cancelled (Grafana waits a few seconds first; the preview cancels at once).
// A RunStream that ends while viewers remain is started again, as Grafana does.
//
// SSE events on the wire (all `data` are JSON):
// - `subscribed` `{status: "OK", data: <DataFrameJSON or null>}` — first event, SubscribeStream's data;
// - `refused` `{status: "NOT_FOUND" | "PERMISSION_DENIED" | …, message}` — then the response ends;
// - unnamed (`message`) events: one RunStream packet each, the plugin's JSON frame as it is.

/** `pluginv2.SubscribeStreamResponse.Status` by number. */
export const SUBSCRIBE_STATUS = ['OK', 'NOT_FOUND', 'PERMISSION_DENIED'];

/** gRPC status code CANCELLED. */
const CANCELLED = 1;
/** Comment line sent to idle subscribers so proxies and browsers keep the connection. */
const HEARTBEAT_MS = 15000;

/** `ds/<uid>/<path>` → `{scope, uid, path}`, or null; Live's alphabet and its 160-character cap. */
export function parseChannel(channel) {
  if (typeof channel !== 'string' || channel.length > 160 || !/^[A-Za-z0-9_\-/=.]+$/.test(channel)) {
    return null;
  }
  const m = /^ds\/([^/]+)\/(.+)$/.exec(channel);
  return m ? { scope: 'ds', uid: m[1], path: m[2] } : null;
}

/** One SSE event; every line of `data` gets its own `data:` line (the browser joins them with \n). */
export function sseEvent(event, data) {
  let out = event ? `event: ${event}\n` : '';
  for (const line of String(data).split(/\r\n|\r|\n/)) {
    out += `data: ${line}\n`;
  }
  return out + '\n';
}

/** Rows of a DataFrameJSON (length of its first values column), 0 when there are none. */
export function rowsOf(frame) {
  const first = frame?.data?.values?.[0];
  return Array.isArray(first) ? first.length : 0;
}

function parseJSON(bytes) {
  if (!bytes || !bytes.length) {
    return null;
  }
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return null;
  }
}

export class LiveBridge {
  /**
   * @param {object} deps
   * @param {object} deps.plugin `subscribeStream(request)` → Promise, `runStream(request)` → gRPC readable call, `running`
   * @param {object} deps.store the data source store (`uid`, `pluginContext()`)
   * @param {(line: string) => void} [deps.log]
   * @param {number} [deps.restartMs] delay before a RunStream that ended on its own is started again
   */
  constructor({ plugin, store, log = () => {}, restartMs = 1000 }) {
    this.plugin = plugin;
    this.store = store;
    this.log = log;
    this.restartMs = restartMs;
    /** channel → {channel, path, subscribers: Set, call, runStreams, packets, subscribes, lastError, restart} */
    this.channels = new Map();
  }

  /** `GET /api/live/stats`. */
  stats() {
    return {
      channels: [...this.channels.values()].map((c) => ({
        channel: c.channel,
        subscribers: c.subscribers.size,
        runStreams: c.runStreams,
        running: Boolean(c.call),
        packets: c.packets,
        subscribes: c.subscribes,
        lastError: c.lastError,
      })),
    };
  }

  entry(channel, path) {
    let c = this.channels.get(channel);
    if (!c) {
      c = {
        channel,
        path,
        subscribers: new Set(),
        call: null,
        runStreams: 0,
        packets: 0,
        subscribes: 0,
        lastError: null,
        restart: null,
      };
      this.channels.set(channel, c);
    }
    return c;
  }

  /**
   * `GET /api/live/stream?channel=…`: answers with an error status, or starts the event stream and resolves
   * with 200 right away (the response stays open until the browser leaves).
   */
  async subscribe(req, res, channel) {
    const addr = parseChannel(channel);
    const fail = (status, message) => {
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify({ message }));
      return status;
    };
    if (!addr) {
      return fail(400, `invalid channel ${JSON.stringify(channel)}: expected ds/<uid>/<path> in Live's alphabet`);
    }
    if (addr.uid !== this.store.uid) {
      return fail(404, `data source ${JSON.stringify(addr.uid)} not found`);
    }
    if (!this.plugin.running) {
      return fail(502, 'the backend plugin is not running (see the preview log)');
    }
    let closed = false;
    res.once('close', () => {
      closed = true;
    });
    const reply = await this.plugin.subscribeStream({ pluginContext: this.store.pluginContext(), path: addr.path });
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    const status = SUBSCRIBE_STATUS[reply.status] ?? `status ${reply.status}`;
    if (reply.status !== 0) {
      this.log(`live: subscribe ${channel} refused by the plugin (${status})`);
      res.end(sseEvent('refused', JSON.stringify({ status, message: `subscription refused: ${status}` })));
      return 200;
    }
    if (closed) {
      return 200;
    }
    const initial = parseJSON(reply.data);
    const c = this.entry(channel, addr.path);
    const sub = { res };
    c.subscribers.add(sub);
    c.subscribes += 1;
    res.write(sseEvent('subscribed', JSON.stringify({ status, data: initial })));
    this.log(`live: subscribe ${channel} (subscribers ${c.subscribers.size}, initial rows ${rowsOf(initial)})`);
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
    heartbeat.unref?.();
    res.once('close', () => {
      clearInterval(heartbeat);
      c.subscribers.delete(sub);
      this.log(`live: unsubscribe ${channel} (subscribers ${c.subscribers.size})`);
      if (c.subscribers.size === 0) {
        this.stop(c, 'last subscriber left');
      }
    });
    if (!c.call && !c.restart) {
      this.run(c);
    }
    return 200;
  }

  /** Start the channel's one RunStream call and fan its packets out to every subscriber. */
  run(c) {
    const call = this.plugin.runStream({ pluginContext: this.store.pluginContext(), path: c.path });
    c.call = call;
    c.runStreams += 1;
    c.lastError = null;
    this.log(`live: RunStream ${c.channel} started (#${c.runStreams}, subscribers ${c.subscribers.size})`);
    let done = false;
    const finish = (why) => {
      if (done) {
        return;
      }
      done = true;
      if (c.call !== call) {
        return; // cancelled by stop(): already logged
      }
      c.call = null;
      this.log(`live: RunStream ${c.channel} ended (${why})`);
      if (c.subscribers.size > 0) {
        c.restart = setTimeout(() => {
          c.restart = null;
          if (c.subscribers.size > 0 && !c.call) {
            this.run(c);
          }
        }, this.restartMs);
      }
    };
    call.on('data', (packet) => {
      c.packets += 1;
      const event = sseEvent('', Buffer.from(packet.data ?? []).toString('utf8'));
      for (const s of c.subscribers) {
        s.res.write(event);
      }
    });
    call.on('error', (e) => {
      if (e.code !== CANCELLED) {
        c.lastError = e.details || e.message;
      }
      finish(e.code === CANCELLED ? 'cancelled' : `error: ${e.details || e.message}`);
    });
    call.on('end', () => finish('the plugin ended it'));
  }

  /** Cancel the channel's RunStream (and a pending restart). */
  stop(c, why) {
    clearTimeout(c.restart);
    c.restart = null;
    const call = c.call;
    if (!call) {
      return;
    }
    c.call = null;
    this.log(`live: RunStream ${c.channel} cancelled (${why}; ${c.packets} packets so far)`);
    call.cancel();
  }

  /** Cancel every RunStream (preview shutting down). */
  close() {
    for (const c of this.channels.values()) {
      for (const s of c.subscribers) {
        s.res.end();
      }
      this.stop(c, 'preview stopping');
    }
  }
}
