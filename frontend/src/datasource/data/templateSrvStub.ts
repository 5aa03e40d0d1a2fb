//! Test double of Grafana's TemplateSrv: variables with current values, `replace` with format strings and functions.
import { ScopedVars, TypedVariableModel } from '@grafana/data';
import { TemplateSrv } from '@grafana/runtime';

export interface StubVariable {
  name: string;
  /** Current value; `['$__all']` means "All" is selected. */
  value: string | string[];
  /** Every option (what "All" expands to without a custom all value). */
  options?: string[];
  allValue?: string;
}

/** Mimics Grafana: "All" expands to every option (or the custom all value); multi values go through `format`. */
export function stubTemplateSrv(vars: StubVariable[]): TemplateSrv {
  const find = (name: string) => vars.find((v) => v.name === name);
  const valueOf = (v: StubVariable): string | string[] => {
    const cur = Array.isArray(v.value) ? v.value : [v.value];
    if (cur.includes('$__all')) {
      return v.allValue ?? v.options ?? [];
    }
    return Array.isArray(v.value) ? v.value : v.value;
  };
  const format = (value: string | string[], fmt: unknown): string => {
    if (typeof fmt === 'function') {
      return fmt(value) as string;
    }
    if (Array.isArray(value)) {
      return fmt === 'csv' ? value.join(',') : `{${value.join(',')}}`;
    }
    return value;
  };
  return {
    getVariables: () =>
      vars.map(
        (v) =>
          ({
            name: v.name,
            type: 'query',
            multi: Array.isArray(v.value),
            includeAll: true,
            allValue: v.allValue ?? null,
            current: { value: v.value, text: v.value },
          }) as unknown as TypedVariableModel
      ),
    replace: (target?: string, scopedVars?: ScopedVars, fmt?: string | Function) =>
      (target ?? '').replace(/\$(\w+)|\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)\]\]/g, (match, a, b, f, c) => {
        const name = a ?? b ?? c;
        const scoped = scopedVars?.[name];
        if (scoped) {
          return format(scoped.value as string, fmt);
        }
        const v = find(name);
        return v ? format(valueOf(v), f ?? fmt) : match;
      }),
    containsTemplate: (t?: string) => Boolean(t && /\$\w|\[\[/.test(t)),
    updateTimeRange: () => {},
  };
}
