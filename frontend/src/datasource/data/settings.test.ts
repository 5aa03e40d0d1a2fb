//! Tests of the settings-form helpers (ranges and subject patterns mirror Rust `src/model/settings.rs`).
import { describe, expect, it } from 'vitest';

import { parseNumber, rangeError, splitSubjects, validStreamName, validSubjectPattern } from './settings';

describe('settings helpers', () => {
  it('parses numbers; empty means default', () => {
    expect(parseNumber('2500')).toBe(2500);
    expect(parseNumber(' ')).toBeUndefined();
    expect(parseNumber('abc')).toBeNaN();
  });
  it('checks the backend ranges', () => {
    expect(rangeError('timeoutMs', 2000, 'ms')).toBeUndefined();
    expect(rangeError('timeoutMs', 5, 'ms')).toMatch(/10 to 120000/);
    expect(rangeError('timeoutMs', 120001, 'ms')).toBeDefined();
    expect(rangeError('sampleIntervalSec', 0, 's')).toBeUndefined();
    expect(rangeError('retentionMinutes', 0, 'min')).toMatch(/1 to 10080/);
    expect(rangeError('retentionMinutes', 1.5, 'min')).toBeDefined();
    expect(rangeError('retentionMinutes', undefined, 'min')).toBeUndefined();
    expect(rangeError('maxRoundBytes', 16777216, 'bytes')).toBeUndefined();
    expect(rangeError('maxRoundBytes', 1000, 'bytes')).toMatch(/65536 to 1073741824/);
    expect(rangeError('maxRoundBytes', 2 ** 31, 'bytes')).toBeDefined();
  });
  it('validates subject patterns like the backend', () => {
    for (const ok of ['orders.get', 'orders.*', 'orders.>', '*', '>']) {
      expect(validSubjectPattern(ok)).toBe(true);
    }
    for (const bad of ['', 'a..b', 'a.>.b', 'a b', 'a*', 'orders.g>']) {
      expect(validSubjectPattern(bad)).toBe(false);
    }
    expect(splitSubjects('a.b, c.>\nd, a.b')).toEqual(['a.b', 'c.>', 'd']);
  });
});

describe('validStreamName', () => {
  it('accepts what the backend accepts for historyStream', () => {
    for (const ok of ['NATSMICRO_HISTORY', 'fleet-1', 'a', 'x'.repeat(48)]) {
      expect(validStreamName(ok)).toBe(true);
    }
    for (const bad of ['', 'a.b', 'a b', 'a*', 'x'.repeat(49), 'ä']) {
      expect(validStreamName(bad)).toBe(false);
    }
  });
});
