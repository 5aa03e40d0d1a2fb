//! Tests that the TypeScript unions and tables agree with contract.json, where the compiler cannot check it.
import { describe, expect, it } from 'vitest';

import contract from './contract.json';
import {
  AUTH_TYPES,
  CONTRACT_RANGES,
  DEFAULT_HISTORY_MAX_BYTES,
  DEFAULT_HISTORY_REPLICAS,
  HISTORY_STORES,
  AuthType,
  DEFAULT_MAX_ROUND_BYTES,
  DEFAULT_RETENTION_MINUTES,
  DEFAULT_SAMPLE_INTERVAL_SEC,
  DEFAULT_TIMEOUT_MS,
  Format,
  FORMATS,
  MAX_ROUND_BYTES_RANGE,
  SLOW_MS_RANGE,
  DEFAULT_SLOW_MS,
  METRICS,
  QUERY_TYPES,
  RETENTION_MINUTES_RANGE,
  SAMPLE_INTERVAL_SEC_RANGE,
  TIMEOUT_MS_RANGE,
  TIMESERIES_METRICS,
} from './types';

// Exhaustive records: tsc fails if a member of the union is missing here or one is listed that is not in it,
// so their keys are the unions' members at run time.
const FORMAT_MEMBERS: Record<Format, true> = { instant: true, table: true, timeseries: true };
const AUTH_TYPE_MEMBERS: Record<AuthType, true> = { none: true, userpass: true, token: true, nkey: true, creds: true };

const sorted = (xs: Iterable<string>) => [...xs].sort();

describe('contract.json and types.ts', () => {
  it('lists each query type once, and every per-type table has exactly those keys', () => {
    expect(new Set(QUERY_TYPES).size).toBe(QUERY_TYPES.length);
    for (const table of [FORMATS, METRICS, TIMESERIES_METRICS]) {
      expect(sorted(Object.keys(table))).toEqual(sorted(QUERY_TYPES));
    }
  });

  it('uses exactly the members of `Format`', () => {
    expect(sorted(new Set(Object.values(FORMATS).flat()))).toEqual(sorted(Object.keys(FORMAT_MEMBERS)));
    for (const t of QUERY_TYPES) {
      expect(new Set(FORMATS[t]).size).toBe(FORMATS[t].length);
    }
  });

  it('lists exactly the members of `AuthType`, each once', () => {
    expect(sorted(AUTH_TYPES)).toEqual(sorted(Object.keys(AUTH_TYPE_MEMBERS)));
    expect(new Set(AUTH_TYPES).size).toBe(AUTH_TYPES.length);
  });

  it('gives metrics only to query types that answer the format they are for', () => {
    for (const t of QUERY_TYPES) {
      expect(METRICS[t].length > 0).toBe(FORMATS[t].includes('instant'));
      expect(TIMESERIES_METRICS[t].length > 0).toBe(FORMATS[t].includes('timeseries'));
    }
  });

  it('lists the history stores, memory (the default) first', () => {
    expect(HISTORY_STORES).toEqual(['memory', 'jetstream']);
  });

  it('has a [min, max] range for every numeric default, and each default lies in its range', () => {
    const ranges: Array<[string, [number, number], number]> = [
      ['timeoutMs', TIMEOUT_MS_RANGE, DEFAULT_TIMEOUT_MS],
      ['sampleIntervalSec', SAMPLE_INTERVAL_SEC_RANGE, DEFAULT_SAMPLE_INTERVAL_SEC],
      ['retentionMinutes', RETENTION_MINUTES_RANGE, DEFAULT_RETENTION_MINUTES],
      ['maxRoundBytes', MAX_ROUND_BYTES_RANGE, DEFAULT_MAX_ROUND_BYTES],
      ['slowMs', SLOW_MS_RANGE, DEFAULT_SLOW_MS],
      ['historyMaxBytes', CONTRACT_RANGES.historyMaxBytes, DEFAULT_HISTORY_MAX_BYTES],
      ['historyReplicas', CONTRACT_RANGES.historyReplicas, DEFAULT_HISTORY_REPLICAS],
    ];
    expect(sorted(Object.keys(contract.ranges))).toEqual(sorted(ranges.map(([k]) => k)));
    for (const [key, range, value] of ranges) {
      expect(range, key).toHaveLength(2);
      expect(range.every(Number.isInteger), key).toBe(true);
      expect(range[0], key).toBeLessThanOrEqual(range[1]);
      expect(value, key).toBeGreaterThanOrEqual(range[0]);
      expect(value, key).toBeLessThanOrEqual(range[1]);
    }
  });

  it('exports the very objects of the JSON, so types.ts holds no copy of its own', () => {
    expect(QUERY_TYPES).toBe(contract.queryTypes);
    expect(FORMATS).toBe(contract.formats);
    expect(AUTH_TYPES).toBe(contract.authTypes);
  });
});
