//! Tests of the query model tables: every query type has a default format; metrics exactly where an instant format is.
import { describe, expect, it } from 'vitest';

import { FORMATS, METRICS, QUERY_TYPES } from './types';

describe('query model tables', () => {
  it('every query type has a default format, and only numeric instant types have metrics', () => {
    for (const t of QUERY_TYPES) {
      expect(FORMATS[t].length).toBeGreaterThan(0);
      expect(METRICS[t].length > 0).toBe(FORMATS[t].includes('instant'));
    }
  });
});
