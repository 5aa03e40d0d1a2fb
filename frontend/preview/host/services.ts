//! Grafana runtime services the plugins reach through @grafana/runtime: template variables, data source lookup, echo (analytics no-op).
import {
  DataSourceApi,
  DataSourceInstanceSettings,
  DataQuery,
  DataSourceJsonData,
  DataSourcePlugin,
  DataSourceRef,
  DataSourceSettings,
  ScopedVars,
  TimeRange,
  TypedVariableModel,
} from '@grafana/data';
import { DataSourceSrv, EchoSrv, TemplateSrv } from '@grafana/runtime';

/** A data source plugin of any query and options types. */
export type AnyDataSourcePlugin = DataSourcePlugin<
  DataSourceApi<DataQuery, DataSourceJsonData>,
  DataQuery,
  DataSourceJsonData
>;

/** A demo dashboard variable. */
export interface DemoVariable {
  name: string;
  label: string;
  multi: boolean;
  options: string[];
  current: string[];
}

/** `${name}`, `$name`, `[[name]]` with optional `:format` / `.fieldPath` — Grafana's variable syntax. */
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^}]+))?(?::([^}]+))?}/g;

function regexEscape(s: string) {
  return s.replace(/[\\^$*+?.()|[\]{}\/]/g, '\\$&');
}

type Formatter = (value: string | string[], variable: { name: string; multi?: boolean }) => string;

/** A subset of Grafana's variable formats; the default for multi values is `glob` like Grafana's. */
export function formatValue(value: string | string[], format: string | Formatter | undefined, name: string): string {
  if (typeof format === 'function') {
    return format(value, { name, multi: Array.isArray(value) });
  }
  const list = Array.isArray(value) ? value : [value];
  switch (format) {
    case 'csv':
      return list.join(',');
    case 'pipe':
      return list.join('|');
    case 'json':
      return JSON.stringify(value);
    case 'regex':
      return list.length === 1 ? regexEscape(list[0]) : `(${list.map(regexEscape).join('|')})`;
    case 'singlequote':
      return list.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(',');
    case 'doublequote':
      return list.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(',');
    case 'queryparam':
      return list.map((v) => `var-${name}=${encodeURIComponent(v)}`).join('&');
    case 'raw':
    case 'text':
      return list.join(' + ');
    default:
      return list.length === 1 ? list[0] : `{${list.join(',')}}`;
  }
}

export class PreviewTemplateSrv implements TemplateSrv {
  private range?: TimeRange;

  constructor(public variables: DemoVariable[]) {}

  getVariables(): TypedVariableModel[] {
    return this.variables.map(
      (v, index) =>
        ({
          id: v.name,
          rootStateKey: 'preview',
          name: v.name,
          label: v.label,
          type: 'custom',
          multi: v.multi,
          includeAll: false,
          index,
          hide: 0,
          skipUrlSync: false,
          global: false,
          state: 'Done',
          error: null,
          description: null,
          query: v.options.join(','),
          options: v.options.map((o) => ({ text: o, value: o, selected: v.current.includes(o) })),
          current: {
            text: v.multi ? v.current : v.current[0],
            value: v.multi ? v.current : v.current[0],
            selected: true,
          },
        }) as unknown as TypedVariableModel
    );
  }

  private value(name: string, scopedVars?: ScopedVars): string | string[] | undefined {
    const scoped = scopedVars?.[name];
    if (scoped !== undefined) {
      return scoped.value as string | string[];
    }
    const v = this.variables.find((x) => x.name === name);
    if (v) {
      return v.multi ? v.current : v.current[0];
    }
    if (this.range && name === '__from') {
      return String(this.range.from.valueOf());
    }
    if (this.range && name === '__to') {
      return String(this.range.to.valueOf());
    }
    return undefined;
  }

  replace(target?: string, scopedVars?: ScopedVars, format?: string | Function): string {
    if (!target) {
      return target ?? '';
    }
    return target.replace(VARIABLE, (match, a, b, bFormat, c, _fieldPath, cFormat) => {
      const name = a ?? b ?? c;
      const value = this.value(name, scopedVars);
      if (value === undefined) {
        return match;
      }
      return formatValue(value, (bFormat ?? cFormat ?? format) as string | Formatter | undefined, name);
    });
  }

  containsTemplate(target?: string): boolean {
    if (!target) {
      return false;
    }
    VARIABLE.lastIndex = 0;
    const found = [...target.matchAll(VARIABLE)].some((m) => this.value(m[1] ?? m[2] ?? m[4]) !== undefined);
    return found;
  }

  updateTimeRange(timeRange: TimeRange): void {
    this.range = timeRange;
  }
}

/** Instance settings (what `getInstanceSettings` returns) from the saved settings and the plugin meta of boot data. */
export function instanceSettings(
  s: DataSourceSettings,
  meta: DataSourceInstanceSettings['meta']
): DataSourceInstanceSettings {
  return {
    id: s.id,
    uid: s.uid,
    type: s.type,
    name: s.name,
    meta,
    url: `/api/datasources/proxy/uid/${s.uid}`,
    jsonData: s.jsonData,
    access: 'proxy',
    readOnly: s.readOnly,
    isDefault: true,
    rawRef: { uid: s.uid, type: s.type },
  } as DataSourceInstanceSettings;
}

/** One data source, re-instantiated from the plugin's DataSourceClass whenever its settings change (as Grafana does on save). */
export class PreviewDataSourceSrv implements DataSourceSrv {
  private instance?: DataSourceApi;

  constructor(
    private plugin: AnyDataSourcePlugin,
    private settings: DataSourceInstanceSettings
  ) {}

  update(settings: DataSourceInstanceSettings) {
    this.settings = settings;
    this.instance = undefined;
  }

  private matches(ref?: DataSourceRef | string | null): boolean {
    if (ref === undefined || ref === null || ref === '' || ref === 'default') {
      return true;
    }
    if (typeof ref === 'string') {
      return ref === this.settings.uid || ref === this.settings.name;
    }
    return ref.uid === undefined ? ref.type === this.settings.type : ref.uid === this.settings.uid;
  }

  getInstanceSettings(ref?: DataSourceRef | string | null): DataSourceInstanceSettings | undefined {
    return this.matches(ref) ? this.settings : undefined;
  }

  /** Synchronous variant for the host's own views. */
  instanceNow(): DataSourceApi {
    if (!this.instance) {
      const ds = new this.plugin.DataSourceClass(this.settings);
      ds.components = this.plugin.components;
      ds.meta = this.settings.meta;
      this.instance = ds;
      return ds;
    }
    return this.instance;
  }

  async get(ref?: DataSourceRef | string | null): Promise<DataSourceApi> {
    if (!this.matches(ref)) {
      throw new Error(`Datasource ${JSON.stringify(ref)} was not found`);
    }
    return this.instanceNow();
  }

  getList(): DataSourceInstanceSettings[] {
    return [this.settings];
  }

  /** `void` in Grafana 12.4's DataSourceSrv, `Promise<void>` in 13's: a promise satisfies both. */
  async reload(): Promise<void> {
    this.instance = undefined;
  }

  registerRuntimeDataSource(): void {}
}

/** Analytics go nowhere in the preview. */
export const echoSrv: EchoSrv = {
  flush() {},
  addBackend() {},
  addEvent() {},
} as unknown as EchoSrv;
