//! GrafanaLiveSrv of the preview: getDataStream subscribes to the server's Live bridge (SSE) and keeps one StreamingDataFrame per subscription, as Grafana's live service does.
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

/** What the page can inspect (tests): per live key, the frame's rows and the packets it got. */
export interface LiveDebugEntry {
  channel: string;
  initialRows: number;
  packets: number;
  rows: number;
  fields: number;
  state: string;
}

declare global {
  interface Window {
    __previewLive?: Record<string, LiveDebugEntry>;
  }
}

let counter = 0;

function notSupported(what: string): Promise<never> {
  return Promise.reject(new Error(`${what} is not supported in the preview host (no Grafana Live server)`));
}

function rowsOf(frame?: DataFrameJSON | null): number {
  const first = frame?.data?.values?.[0];
  return Array.isArray(first) ? first.length : 0;
}

/**
 * Grafana's `getDataStream`: a StreamingDataFrame seeded with the QueryData frame (`options.frame`), then the
 * subscribe data (initial history), then every packet; one DataQueryResponse `{key, state: Streaming, data:
 * [frame]}` per change. As in Grafana, the same frame object grows while its schema stays; a schema change
 * (a new instance) gives a new frame object.
 */
export function liveDataStream(
  options: LiveDataStreamOptions,
  url = '/api/live/stream'
): Observable<DataQueryResponse> {
  return new Observable<DataQueryResponse>((subscriber) => {
    counter += 1;
    const key = options.key ?? `preview-live-${counter}`;
    const channel = toLiveChannelId(options.addr);
    let frame = options.frame
      ? StreamingDataFrame.fromDataFrameJSON(options.frame, options.buffer)
      : StreamingDataFrame.empty(options.buffer);
    const debug: LiveDebugEntry = {
      channel,
      initialRows: 0,
      packets: 0,
      rows: frame.length,
      fields: 0,
      state: 'Streaming',
    };
    window.__previewLive = { ...(window.__previewLive ?? {}), [key]: debug };
    const emit = (extra: Partial<DataQueryResponse> = {}) => {
      debug.rows = frame.length;
      debug.fields = frame.fields.length;
      subscriber.next({ key, state: LoadingState.Streaming, data: [frame], ...extra });
    };
    const push = (msg: DataFrameJSON) => {
      const info = frame.push(msg);
      if (info.schemaChanged) {
        frame = StreamingDataFrame.deserialize(frame.serialize());
      }
    };
    emit();
    const source = new EventSource(`${url}?channel=${encodeURIComponent(channel)}`);
    source.addEventListener('subscribed', (e) => {
      const msg = JSON.parse((e as MessageEvent<string>).data) as { data: DataFrameJSON | null };
      debug.initialRows = rowsOf(msg.data);
      if (msg.data) {
        push(msg.data);
      }
      emit();
    });
    source.addEventListener('refused', (e) => {
      const msg = JSON.parse((e as MessageEvent<string>).data) as { message: string };
      source.close();
      debug.state = 'Error';
      emit({ state: LoadingState.Error, error: { message: `${channel}: ${msg.message}` } });
    });
    source.onmessage = (e: MessageEvent<string>) => {
      debug.packets += 1;
      push(JSON.parse(e.data) as DataFrameJSON);
      emit();
    };
    // The browser reconnects by itself (and the bridge sends the subscribe data again, as Grafana would).
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        debug.state = 'Error';
        emit({ state: LoadingState.Error, error: { message: `${channel}: the Live bridge closed the stream` } });
      }
    };
    return () => {
      source.close();
      debug.state = 'Done';
    };
  });
}

export const previewLiveSrv: GrafanaLiveSrv = {
  getConnectionState: () => of(true),
  getStream<T>(address: LiveChannelAddress): Observable<LiveChannelEvent<T>> {
    return new Observable<LiveChannelEvent<T>>((subscriber) => {
      subscriber.error(new Error(`getStream(${toLiveChannelId(address)}) is not supported in the preview host`));
    });
  },
  getDataStream: (options) => liveDataStream(options),
  getPresence: (address): Promise<LiveChannelPresenceStatus> =>
    notSupported(`getPresence(${toLiveChannelId(address)})`),
  publish: (address) => notSupported(`publish(${toLiveChannelId(address)})`),
};
