//! Runs queries the way Grafana's query runners do: a DataQueryRequest through the DataSource's query() (→ /api/ds/query), collected into PanelData.
import {
  CoreApp,
  DataQuery,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceApi,
  LoadingState,
  PanelData,
  TimeRange,
  dateTime,
  makeTimeRange,
} from '@grafana/data';
import { Observable, from, lastValueFrom, toArray } from 'rxjs';

let counter = 0;

/** `now-<minutes>m` to `now`. */
export function lastMinutes(minutes: number): TimeRange {
  const to = dateTime();
  const range = makeTimeRange(dateTime(to).subtract(minutes, 'minutes'), to);
  return { ...range, raw: { from: `now-${minutes}m`, to: 'now' } };
}

export function makeRequest<Q extends DataQuery>(
  targets: Q[],
  range: TimeRange,
  app: CoreApp,
  extra: Partial<DataQueryRequest<Q>> = {}
): DataQueryRequest<Q> {
  const intervalMs = Math.max(1000, Math.round((range.to.valueOf() - range.from.valueOf()) / 500));
  counter += 1;
  return {
    // Grafana's query runners number every run (getNextRequestId): panels use it to tell snapshots apart.
    requestId: `Q${counter}`,
    interval: `${Math.round(intervalMs / 1000)}s`,
    intervalMs,
    maxDataPoints: 500,
    range,
    rangeRaw: range.raw,
    scopedVars: {},
    targets,
    timezone: 'browser',
    app,
    startTime: Date.now(),
    ...extra,
  };
}

/** Run one request to completion; every emitted response is merged (streams are not used by the preview). */
export async function runQuery<Q extends DataQuery>(
  ds: DataSourceApi<Q>,
  request: DataQueryRequest<Q>
): Promise<PanelData> {
  const result = ds.query(request) as Observable<DataQueryResponse> | Promise<DataQueryResponse>;
  const responses = await lastValueFrom(from(result).pipe(toArray()));
  const series = responses.flatMap((r) => r.data ?? []);
  const errors = responses.flatMap((r) => r.errors ?? (r.error ? [r.error] : []));
  return {
    state: errors.length ? LoadingState.Error : LoadingState.Done,
    series,
    errors: errors.length ? errors : undefined,
    error: errors[0],
    timeRange: request.range,
    request,
  };
}
