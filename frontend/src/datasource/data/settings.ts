//! Pure helpers for the data source settings form: number parsing/range checks, subject-pattern checks, auth fields.
import { AuthType, CONTRACT_RANGES, NatsMicroSecureJsonData } from '../../common/types';

/** The numeric settings the backend range-checks: the keys of the contract's `ranges`. */
export type NumberKey = keyof typeof CONTRACT_RANGES;

export const NUMBER_RANGES: Record<NumberKey, [number, number]> = CONTRACT_RANGES;

/** Text typed in a number box → the stored value: a number, or undefined (= the backend default) when empty. */
export function parseNumber(text: string): number | undefined {
  const t = text.trim();
  if (t === '') {
    return undefined;
  }
  const n = Number(t);
  return Number.isFinite(n) ? n : NaN;
}

/** A message when `value` is not a whole number in the range the backend accepts; undefined when fine or unset. */
export function rangeError(key: NumberKey, value: unknown, unit: string): string | undefined {
  if (value === undefined || value === null || value === '') {
    return undefined;
  }
  const n = typeof value === 'number' ? value : Number(value);
  const [min, max] = NUMBER_RANGES[key];
  if (!Number.isInteger(n) || n < min || n > max) {
    return `Use a whole number from ${min} to ${max} ${unit}`;
  }
  return undefined;
}

/** Mirrors Rust `model::settings::valid_subject(_, true)`: dot-separated tokens, `*` one token, `>` only last. */
export function validSubjectPattern(s: string): boolean {
  if (s === '' || s.length > 4096) {
    return false;
  }
  const tokens = s.split('.');
  return tokens.every((t, i) => {
    if (t === '' || /[\s\u0000-\u001f]/.test(t)) {
      return false;
    }
    if (t.includes('*') || t.includes('>')) {
      return t === '*' || (t === '>' && i === tokens.length - 1);
    }
    return true;
  });
}

/** Mirrors Rust `model::settings::history` (`historyStream`): 1 to 48 letters, digits, `_` or `-`. */
export function validStreamName(s: string): boolean {
  return /^[A-Za-z0-9_-]{1,48}$/.test(s);
}

/** Split typed text (commas, newlines) into trimmed, non-empty, unique patterns. */
export function splitSubjects(text: string): string[] {
  const out: string[] = [];
  for (const s of text.split(/[,\n]/)) {
    const t = s.trim();
    if (t && !out.includes(t)) {
      out.push(t);
    }
  }
  return out;
}

/** Secrets each auth type uses. */
export const AUTH_SECRETS: Record<AuthType, Array<keyof NatsMicroSecureJsonData>> = {
  none: [],
  userpass: ['password'],
  token: ['token'],
  nkey: ['nkeySeed'],
  creds: ['credentials'],
};
