//! A fetch()-based implementation of the BackendSrv subset plugins use, with Grafana's FetchResponse / FetchError shapes.
import { BackendSrv, BackendSrvRequest, FetchError, FetchResponse } from '@grafana/runtime';
import { Observable, lastValueFrom, throwError } from 'rxjs';

function serializeParams(params: Record<string, unknown> | undefined): string {
  if (!params) {
    return '';
  }
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) {
      continue;
    }
    for (const one of Array.isArray(v) ? v : [v]) {
      q.append(k, typeof one === 'object' ? JSON.stringify(one) : String(one));
    }
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

function fullUrl(options: BackendSrvRequest): string {
  let url = options.url;
  if (!/^(https?:)?\//.test(url)) {
    url = `/${url}`;
  }
  const params = serializeParams(options.params);
  return params ? url + (url.includes('?') ? '&' + params.slice(1) : params) : url;
}

function body(data: unknown): BodyInit | undefined {
  if (data === undefined || data === null) {
    return undefined;
  }
  if (typeof data === 'string' || data instanceof FormData || data instanceof Blob || data instanceof ArrayBuffer) {
    return data;
  }
  return JSON.stringify(data);
}

async function parse(res: Response, responseType: BackendSrvRequest['responseType']): Promise<unknown> {
  switch (responseType) {
    case 'arraybuffer':
      return res.arrayBuffer();
    case 'blob':
      return res.blob();
    case 'text':
      return res.text();
  }
  const text = await res.text();
  if (!text) {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export class PreviewBackendSrv {
  private inFlight = new Map<string, AbortController>();

  fetch<T>(options: BackendSrvRequest): Observable<FetchResponse<T>> {
    return new Observable<FetchResponse<T>>((subscriber) => {
      const controller = new AbortController();
      if (options.requestId) {
        // Grafana cancels an in-flight request when a new one with the same requestId starts.
        this.inFlight.get(options.requestId)?.abort();
        this.inFlight.set(options.requestId, controller);
      }
      options.abortSignal?.addEventListener('abort', () => controller.abort());
      const headers: Record<string, string> = { 'X-Grafana-Org-Id': '1', ...(options.headers ?? {}) };
      const payload = body(options.data);
      if (payload !== undefined && typeof options.data === 'object' && !(options.data instanceof FormData)) {
        headers['Content-Type'] = headers['Content-Type'] ?? 'application/json';
      }
      const method = (options.method ?? 'GET').toUpperCase();
      fetch(fullUrl(options), {
        method,
        headers,
        body: method === 'GET' || method === 'HEAD' ? undefined : payload,
        credentials: options.credentials ?? 'same-origin',
        signal: controller.signal,
      })
        .then(async (res) => {
          const data = (await parse(res, options.responseType)) as T;
          const response: FetchResponse<T> = {
            data,
            status: res.status,
            statusText: res.statusText,
            ok: res.ok,
            headers: res.headers,
            redirected: res.redirected,
            type: res.type,
            url: res.url,
            config: options,
          };
          if (res.ok) {
            subscriber.next(response);
            subscriber.complete();
            return;
          }
          const d = data as { message?: string } | undefined;
          const error: FetchError<T> = {
            status: res.status,
            statusText: res.statusText,
            data,
            config: options,
            message: typeof d === 'object' && d?.message ? d.message : res.statusText,
            isHandled: false,
          } as FetchError<T>;
          subscriber.error(error);
        })
        .catch((e: unknown) => {
          if (controller.signal.aborted) {
            subscriber.complete();
            return;
          }
          const error = {
            status: 0,
            statusText: 'network error',
            data: { message: e instanceof Error ? e.message : String(e) },
            config: options,
            isHandled: false,
          };
          subscriber.error(error);
        })
        .finally(() => {
          if (options.requestId && this.inFlight.get(options.requestId) === controller) {
            this.inFlight.delete(options.requestId);
          }
        });
      return () => controller.abort();
    });
  }

  async request<T = unknown>(options: BackendSrvRequest): Promise<T> {
    return (await lastValueFrom(this.fetch<T>(options))).data;
  }

  get<T = unknown>(
    url: string,
    params?: Record<string, unknown>,
    requestId?: string,
    options?: Partial<BackendSrvRequest>
  ) {
    return this.request<T>({ ...options, url, params, requestId, method: 'GET' });
  }

  delete<T = unknown>(url: string, data?: unknown, options?: Partial<BackendSrvRequest>) {
    return this.request<T>({ ...options, url, data, method: 'DELETE' });
  }

  post<T = unknown>(url: string, data?: unknown, options?: Partial<BackendSrvRequest>) {
    return this.request<T>({ ...options, url, data, method: 'POST' });
  }

  patch<T = unknown>(url: string, data?: unknown, options?: Partial<BackendSrvRequest>) {
    return this.request<T>({ ...options, url, data, method: 'PATCH' });
  }

  put<T = unknown>(url: string, data?: unknown, options?: Partial<BackendSrvRequest>) {
    return this.request<T>({ ...options, url, data, method: 'PUT' });
  }

  datasourceRequest<T = unknown>(options: BackendSrvRequest): Promise<FetchResponse<T>> {
    return lastValueFrom(this.fetch<T>(options));
  }

  chunked(): Observable<FetchResponse<Uint8Array | undefined>> {
    return throwError(() => new Error('chunked requests are not supported by the local preview host'));
  }
}

/** The instance handed to `setBackendSrv` (the interface has internals the preview does not need). */
export function createBackendSrv(): BackendSrv {
  return new PreviewBackendSrv() as unknown as BackendSrv;
}
