//! Tests of the variable query model helpers and resource error text.
import { describe, expect, it } from 'vitest';

import { instancesPath, resourceErrorMessage, serviceOptions } from './resources';
import { normalizeVariableQuery, valuesToFrame } from './variableQuery';

describe('variable query model', () => {
  it('accepts the model, partial models and plain strings', () => {
    expect(normalizeVariableQuery(undefined)).toEqual({ refId: 'natsmicro-variable', kind: 'services' });
    expect(normalizeVariableQuery({ refId: 'v', kind: 'instances', service: ' $service ' })).toEqual({
      refId: 'v',
      kind: 'instances',
      service: '$service',
    });
    expect(normalizeVariableQuery({ refId: 'v', kind: 'services', service: 'x' })).toEqual({
      refId: 'v',
      kind: 'services',
    });
    expect(normalizeVariableQuery('endpoints orders')).toEqual({
      refId: 'natsmicro-variable',
      kind: 'endpoints',
      service: 'orders',
    });
    expect(normalizeVariableQuery({ refId: 'v', query: 'instances billing' })).toEqual({
      refId: 'v',
      kind: 'instances',
      service: 'billing',
    });
  });
  it('answers with a text/value frame', () => {
    const f = valuesToFrame([{ text: 'a', value: 'a' }, { text: 'b' }], 'v');
    expect(f.fields.map((x) => [x.name, x.values])).toEqual([
      ['text', ['a', 'b']],
      ['value', ['a', 'b']],
    ]);
    expect(f.length).toBe(2);
  });
});

describe('resources', () => {
  it("prefers the backend's {error} text", () => {
    expect(resourceErrorMessage({ status: 502, data: { error: 'boom' }, message: 'generic' })).toBe('boom');
    expect(resourceErrorMessage({ status: 500, data: {}, message: 'generic' })).toBe('generic');
    expect(resourceErrorMessage({ status: 404, statusText: 'Not Found' })).toBe('404 Not Found');
  });
  it('paths and options', () => {
    expect(instancesPath('orders')).toBe('services/orders/instances');
    expect(serviceOptions([{ name: 'orders', instances: 1, versions: ['1.0'] }])).toEqual([
      { label: 'orders', value: 'orders', description: '1 instance · 1.0' },
    ]);
  });
});
