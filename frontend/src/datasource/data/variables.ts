//! Pure template-variable handling: substitute, expand multi-value selections into concrete names, map refIds back.
//!
//! Behaviour (README documentation of it is still to be written):
//! - The backend takes ONE concrete name per filter (service, instance, endpoint) and refuses anything
//!   with `$` in it, because alert rules run without dashboard variables.
//! - A filter whose variable is set to "All" (value `$__all`) and has no custom "all value" becomes an
//!   empty filter, which the backend reads as "all" — also covering services that appear later.
//! - A filter whose variable has several values selected is expanded: the dashboard query is sent as one
//!   backend query per value (cartesian product over service × instance × endpoint). Each copy gets a
//!   unique refId (`A-orders`, `A-billing`, …) on the wire; every frame and error of the answer is given
//!   the original refId back, so panels, transformations and "hide series" keep working on `A`.
//! - Other fields (subject, payload, header values) are substituted with multi values joined by commas.
import { ScopedVars, TypedVariableModel } from '@grafana/data';
import { TemplateSrv } from '@grafana/runtime';

import { NatsMicroQuery } from '../../common/types';

/** Value Grafana stores for the "All" option. */
export const ALL_VALUE = '$__all';

/** Filter fields that take exactly one name each on the backend. */
export const NAME_FIELDS = ['service', 'instance', 'endpoint'] as const;
export type NameField = (typeof NAME_FIELDS)[number];

// Private-use characters mark a multi-value list inside a substituted string, so a literal brace or comma
// typed by the user is never taken for a list.
const OPEN = '\uE000';
const SEP = '\uE001';
const CLOSE = '\uE002';

/** Names of the variables referenced in `text` (`$x`, `${x}`, `${x:fmt}`, `${x.path}`, `[[x]]`). */
export function referencedVariables(text: string): string[] {
  const re = /\$(\w+)|\$\{(\w+)(?:[.:][^}]*)?\}|\[\[(\w+)(?::\w+)?\]\]/g;
  const names: string[] = [];
  for (const m of text.matchAll(re)) {
    const name = m[1] ?? m[2] ?? m[3];
    if (name && !names.includes(name)) {
      names.push(name);
    }
  }
  return names;
}

function currentValues(v: TypedVariableModel): string[] {
  const current = (v as { current?: { value?: unknown } }).current;
  const value = current?.value;
  if (Array.isArray(value)) {
    return value.map(String);
  }
  return value === undefined || value === null ? [] : [String(value)];
}

/**
 * `$name` of each dashboard variable, for the editors' pickers. None outside a dashboard: there Grafana has no
 * template service yet (`getTemplateSrv()` is undefined) or it cannot list variables (throws).
 */
export function variableNames(srv: Pick<TemplateSrv, 'getVariables'> | undefined): string[] {
  try {
    return (srv?.getVariables() ?? []).map((v) => `$${v.name}`);
  } catch {
    return [];
  }
}

/** Whether variable `name` is set to "All" without a custom all value (then it means "no filter"). */
export function isAllWithoutCustomValue(name: string, srv: TemplateSrv, scopedVars?: ScopedVars): boolean {
  if (scopedVars && Object.prototype.hasOwnProperty.call(scopedVars, name)) {
    const scoped = scopedVars[name]?.value;
    return scoped === ALL_VALUE || (Array.isArray(scoped) && scoped.includes(ALL_VALUE));
  }
  const v = srv.getVariables().find((x) => x.name === name);
  if (!v) {
    return false;
  }
  const allValue = (v as { allValue?: string | null }).allValue;
  return currentValues(v).includes(ALL_VALUE) && (allValue === undefined || allValue === null || allValue === '');
}

function listFormatter(value: unknown): string {
  if (Array.isArray(value)) {
    const items = value.map(String);
    return items.length === 1 ? items[0] : OPEN + items.join(SEP) + CLOSE;
  }
  return value === undefined || value === null ? '' : String(value);
}

/** Expand the first marked list in `s` (and recursively the rest): `a{x|y}b` → `axb`, `ayb`. */
function expandMarkers(s: string): string[] {
  const start = s.indexOf(OPEN);
  if (start < 0) {
    return [s];
  }
  const end = s.indexOf(CLOSE, start);
  if (end < 0) {
    return [s];
  }
  const head = s.slice(0, start);
  const items = s.slice(start + 1, end).split(SEP);
  const tails = expandMarkers(s.slice(end + 1));
  const out: string[] = [];
  for (const i of items) {
    for (const t of tails) {
      out.push(head + i + t);
    }
  }
  return out;
}

/**
 * Every concrete value a name filter stands for. `['']` means no filter (empty text, or a variable set to All).
 * Values are trimmed and de-duplicated; order follows the variable's selection.
 */
export function expandName(text: string | undefined, srv: TemplateSrv, scopedVars?: ScopedVars): string[] {
  const raw = (text ?? '').trim();
  if (raw === '' || (!raw.includes('$') && !raw.includes('[['))) {
    return [raw];
  }
  if (referencedVariables(raw).some((name) => isAllWithoutCustomValue(name, srv, scopedVars))) {
    return [''];
  }
  const replaced = srv.replace(raw, scopedVars, listFormatter);
  const out: string[] = [];
  for (const v of expandMarkers(replaced)) {
    const t = v.trim();
    if (!out.includes(t)) {
      out.push(t);
    }
  }
  return out.length ? out : [''];
}

/** Substitute a free-text field (subject, payload, header value): multi values joined by commas. */
export function substituteText(
  text: string | undefined,
  srv: TemplateSrv,
  scopedVars?: ScopedVars
): string | undefined {
  if (text === undefined || text === '') {
    return text;
  }
  return srv.replace(text, scopedVars, 'csv');
}

/**
 * Substitute every templated field of one query for the backend. A name filter with several values becomes
 * the values joined by commas, which the backend refuses with a message naming them — this only happens on
 * paths that bypass `DataSource.query` (server-side expressions); `query` expands such queries first.
 */
export function applyVariables(q: NatsMicroQuery, srv: TemplateSrv, scopedVars?: ScopedVars): NatsMicroQuery {
  const out: NatsMicroQuery = { ...q };
  for (const f of NAME_FIELDS) {
    if (q[f] !== undefined) {
      out[f] = expandName(q[f], srv, scopedVars).join(',');
    }
  }
  out.subject = substituteText(q.subject, srv, scopedVars);
  out.payload = substituteText(q.payload, srv, scopedVars);
  if (out.subject === undefined) {
    delete out.subject;
  }
  if (out.payload === undefined) {
    delete out.payload;
  }
  if (q.headers) {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(q.headers)) {
      headers[srv.replace(k, scopedVars, 'csv')] = substituteText(v, srv, scopedVars) ?? '';
    }
    out.headers = headers;
  }
  return out;
}

/** A query split by multi-value filters, with where each wire refId came from. */
export interface Expansion {
  targets: NatsMicroQuery[];
  /** wire refId → original refId, only for renamed copies. */
  refIds: Map<string, string>;
}

function suffix(values: string[]): string {
  const parts = values.filter((v) => v !== '');
  return parts.length ? parts.join('-') : 'all';
}

/**
 * Split every target whose service/instance/endpoint stands for several names into one target per
 * combination; the copies get unique refIds and `refIds` maps them back. Targets with single values are
 * returned with those values substituted and their refId unchanged.
 */
export function expandTargets(targets: NatsMicroQuery[], srv: TemplateSrv, scopedVars?: ScopedVars): Expansion {
  const taken = new Set(targets.map((t) => t.refId));
  const refIds = new Map<string, string>();
  const out: NatsMicroQuery[] = [];
  for (const t of targets) {
    const lists = NAME_FIELDS.map((f) => (t[f] === undefined ? [undefined] : expandName(t[f], srv, scopedVars)));
    let combos: Array<Array<string | undefined>> = [[]];
    for (const list of lists) {
      combos = combos.flatMap((c) => list.map((v) => [...c, v]));
    }
    if (combos.length === 1) {
      const copy: NatsMicroQuery = { ...t };
      NAME_FIELDS.forEach((f, i) => {
        if (combos[0][i] !== undefined) {
          copy[f] = combos[0][i];
        }
      });
      out.push(copy);
      continue;
    }
    for (const combo of combos) {
      let refId = `${t.refId}-${suffix(combo.filter((v): v is string => v !== undefined))}`;
      for (let n = 2; taken.has(refId); n++) {
        refId = `${t.refId}-${suffix(combo.filter((v): v is string => v !== undefined))}-${n}`;
      }
      taken.add(refId);
      refIds.set(refId, t.refId);
      const copy: NatsMicroQuery = { ...t, refId };
      NAME_FIELDS.forEach((f, i) => {
        if (combo[i] !== undefined) {
          copy[f] = combo[i];
        }
      });
      out.push(copy);
    }
  }
  return { targets: out, refIds };
}
