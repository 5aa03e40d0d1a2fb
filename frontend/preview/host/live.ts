//! GrafanaLiveSrv of the preview: getDataStream subscribes to the server's Live bridge (SSE) and keeps ONE StreamingDataFrame per channel, seeded and shared the way Grafana's live service does it.
import {
  DataFrameJSON,
  DataQueryResponse,
  LiveChannelAddress,
  LiveChannelEvent,
  LiveChannelPresenceStatus,
  LoadingState,
  StreamingDataFrame,
  toLiveChannelId,
} from '@grafana/data';
import { GrafanaLiveSrv, LiveDataStreamOptions } from '@grafana/runtime';
import { Observable, of } from 'rxjs';

/** What the page can inspect (tests): per subscriber key, what its channel's buffer got. */
export interface LiveDebugEntry {
  channel: string;
  /** Rows of the QueryData frame that seeded the channel's buffer (0 when the buffer already had data). */
  seedRows: number;
  /** Rows of SubscribeStream's initial data (the plugin sends none). */
  initialRows: number;
  packets: number;
  rows: number;
  fields: number;
  /** Times in the buffer that are not after the one before: a point drawn twice, or going back in time. */
  repeats: number;
  /** Connecting (the Live endpoint never answered, as behind a proxy that drops it), Streaming, Error or Done. */
  state: string;
}

declare global {
  interface Window {
    __previewLive?: Record<string, LiveDebugEntry>;
  }
}

/** How long a channel's buffer outlives its last subscriber (a refresh re-subscribes within it). */
const SHUTDOWN_DELAY_MS = 2000;

let counter = 0;

function notSupported(what: string): Promise<never> {
  return Promise.reject(new Error(`${what} is not supported in the preview host (no Grafana Live server)`));
}

function rowsOf(frame?: DataFrameJSON | null): number {
  const first = frame?.data?.values?.[0];
  return Array.isArray(first) ? first.length : 0;
}

function repeatsIn(frame: StreamingDataFrame): number {
  const time = frame.fields.find((f) => f.type === 'time');
  const values = (time?.values ?? []) as number[];
  let repeats = 0;
  for (let i = 1; i < values.length; i++) {
    if (!(values[i] > values[i - 1])) {
      repeats += 1;
    }
  }
  return repeats;
}

/** One channel: its buffer, its bridge connection, its subscribers. */
interface Channel {
  id: string;
  frame: StreamingDataFrame;
  packets: number;
  initialRows: number;
  state: string;
  error?: string;
  source: EventSource;
  listeners: Set<() => void>;
  shutdown?: ReturnType<typeof setTimeout>;
}

const channels = new Map<string, Channel>();

function open(id: string, options: LiveDataStreamOptions, url: string): Channel {
  const c: Channel = {
    id,
    frame: StreamingDataFrame.empty(options.buffer),
    packets: 0,
    initialRows: 0,
    state: 'Connecting',
    source: new EventSource(`${url}?channel=${encodeURIComponent(id)}`),
    listeners: new Set(),
  };
  const changed = () => c.listeners.forEach((l) => l());
  const push = (msg: DataFrameJSON) => {
    if (c.frame.push(msg).schemaChanged) {
      // As in Grafana, a schema change (a new instance) gives subscribers a new frame object.
      c.frame = StreamingDataFrame.deserialize(c.frame.serialize());
    }
  };
  c.source.onopen = () => {
    c.state = 'Streaming';
    changed();
  };
  c.source.addEventListener('subscribed', (e) => {
    const msg = JSON.parse((e as MessageEvent<string>).data) as { data: DataFrameJSON | null };
    c.initialRows += rowsOf(msg.data);
    if (msg.data) {
      push(msg.data);
    }
    changed();
  });
  c.source.addEventListener('refused', (e) => {
    const msg = JSON.parse((e as MessageEvent<string>).data) as { message: string };
    c.source.close();
    c.state = 'Error';
    c.error = `${id}: ${msg.message}`;
    changed();
  });
  c.source.onmessage = (e: MessageEvent<string>) => {
    c.packets += 1;
    push(JSON.parse(e.data) as DataFrameJSON);
    changed();
  };
  // The browser reconnects by itself (and the bridge sends the subscribe data again, as Grafana
  // would). While the endpoint does not answer, the subscriber keeps what the query answered,
  // without an error, as in Grafana, whose channel then stays pending.
  c.source.onerror = () => {
    if (c.source.readyState === EventSource.CLOSED) {
      c.state = 'Error';
      c.error = `${id}: the Live bridge closed the stream`;
      changed();
    }
  };
  return c;
}

/**
 * Grafana's `getDataStream`: one buffer per channel. The first subscriber's QueryData frame
 * (`options.frame`) seeds it, later subscribers' frames are skipped (Grafana: "will skip initial
 * frames from subsequent subscribers"); then SubscribeStream's data and every packet are appended.
 * Each subscriber gets `{key, state: Streaming, data: [frame]}` per change.
 */
export function liveDataStream(
  options: LiveDataStreamOptions,
  url = '/api/live/stream'
): Observable<DataQueryResponse> {
  return new Observable<DataQueryResponse>((subscriber) => {
    counter += 1;
    const key = options.key ?? `preview-live-${counter}`;
    const id = toLiveChannelId(options.addr);
    let c = channels.get(id);
    if (!c) {
      c = open(id, options, url);
      channels.set(id, c);
    }
    const channel = c;
    clearTimeout(channel.shutdown);
    let seedRows = 0;
    if (channel.frame.length === 0 && channel.packets === 0 && options.frame) {
      seedRows = rowsOf(options.frame);
      channel.frame = StreamingDataFrame.fromDataFrameJSON(options.frame, options.buffer);
    }
    const debug: LiveDebugEntry = {
      channel: id,
      seedRows,
      initialRows: 0,
      packets: 0,
      rows: 0,
      fields: 0,
      repeats: 0,
      state: channel.state,
    };
    window.__previewLive = { ...(window.__previewLive ?? {}), [key]: debug };
    const emit = () => {
      Object.assign(debug, {
        initialRows: channel.initialRows,
        packets: channel.packets,
        rows: channel.frame.length,
        fields: channel.frame.fields.length,
        repeats: repeatsIn(channel.frame),
        state: channel.state,
      });
      const error = channel.error ? { message: channel.error } : undefined;
      subscriber.next({
        key,
        state: error ? LoadingState.Error : LoadingState.Streaming,
        data: [channel.frame],
        ...(error ? { error } : {}),
      });
    };
    channel.listeners.add(emit);
    emit();
    return () => {
      channel.listeners.delete(emit);
      debug.state = 'Done';
      if (channel.listeners.size === 0) {
        channel.shutdown = setTimeout(() => {
          channel.source.close();
          channels.delete(id);
        }, SHUTDOWN_DELAY_MS);
      }
    };
  });
}

/** Whether this page was opened with the Live endpoint blocked (`?noLive=1`), as behind a proxy that drops it. */
function liveBlocked(): boolean {
  return new URLSearchParams(window.location.search).has('noLive');
}

export const previewLiveSrv: GrafanaLiveSrv = {
  getConnectionState: () => of(!liveBlocked()),
  getStream<T>(address: LiveChannelAddress): Observable<LiveChannelEvent<T>> {
    return new Observable<LiveChannelEvent<T>>((subscriber) => {
      subscriber.error(new Error(`getStream(${toLiveChannelId(address)}) is not supported in the preview host`));
    });
  },
  getDataStream: (options) => liveDataStream(options, liveBlocked() ? '/api/live/blocked' : undefined),
  getPresence: (address): Promise<LiveChannelPresenceStatus> =>
    notSupported(`getPresence(${toLiveChannelId(address)})`),
  publish: (address) => notSupported(`publish(${toLiveChannelId(address)})`),
};
