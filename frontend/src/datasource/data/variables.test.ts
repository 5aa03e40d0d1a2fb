//! Tests of template substitution and multi-value expansion.
import { describe, expect, it } from 'vitest';

import { stubTemplateSrv } from './templateSrvStub';
import { applyVariables, expandName, expandTargets, referencedVariables, variableNames } from './variables';

const srv = stubTemplateSrv([
  { name: 'service', value: ['orders', 'billing'] },
  { name: 'one', value: 'orders' },
  { name: 'all', value: ['$__all'], options: ['orders', 'billing'] },
  { name: 'allCustom', value: '$__all', options: ['orders'], allValue: 'orders' },
  { name: 'inst', value: ['i1', 'i2'] },
  { name: 'env', value: ['dev', 'prod'] },
]);

describe('referencedVariables', () => {
  it('finds every syntax', () => {
    expect(referencedVariables('$a ${b} ${c:csv} [[d]] $a')).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('variableNames', () => {
  it('lists every dashboard variable as $name, in order', () => {
    expect(variableNames(srv)).toEqual(['$service', '$one', '$all', '$allCustom', '$inst', '$env']);
  });
  it('lists none outside a dashboard (no template service, or one that throws)', () => {
    expect(variableNames(undefined)).toEqual([]);
    const broken = {
      getVariables: () => {
        throw new Error('no dashboard');
      },
    };
    expect(variableNames(broken)).toEqual([]);
  });
});

describe('expandName', () => {
  it('keeps literals and empties', () => {
    expect(expandName('orders', srv)).toEqual(['orders']);
    expect(expandName('', srv)).toEqual(['']);
    expect(expandName(undefined, srv)).toEqual(['']);
  });
  it('substitutes a single value', () => {
    expect(expandName('$one', srv)).toEqual(['orders']);
    expect(expandName('${one}', srv)).toEqual(['orders']);
  });
  it('expands a multi value into names, also inside a longer name', () => {
    expect(expandName('$service', srv)).toEqual(['orders', 'billing']);
    expect(expandName('svc-$env', srv)).toEqual(['svc-dev', 'svc-prod']);
    expect(expandName('$service-$env', srv)).toEqual(['orders-dev', 'orders-prod', 'billing-dev', 'billing-prod']);
  });
  it('All without a custom all value means no filter; with one, the custom value', () => {
    expect(expandName('$all', srv)).toEqual(['']);
    expect(expandName('$allCustom', srv)).toEqual(['orders']);
  });
  it('scoped vars (repeated panels) win over the dashboard value', () => {
    expect(expandName('$service', srv, { service: { text: 'x', value: 'x' } })).toEqual(['x']);
  });
  it('leaves unknown variables for the backend to refuse', () => {
    expect(expandName('$nope', srv)).toEqual(['$nope']);
  });
});

describe('applyVariables', () => {
  it('substitutes every templated field; multi values in free text join with commas', () => {
    const q = applyVariables(
      {
        refId: 'A',
        queryType: 'request',
        service: '$one',
        subject: 'orders.$env',
        payload: '{"svc":"$one"}',
        headers: { 'X-Env': '$env' },
      },
      srv
    );
    expect(q.service).toBe('orders');
    expect(q.subject).toBe('orders.dev,prod');
    expect(q.payload).toBe('{"svc":"orders"}');
    expect(q.headers).toEqual({ 'X-Env': 'dev,prod' });
  });
  it('All becomes an empty filter', () => {
    expect(applyVariables({ refId: 'A', service: '$all' }, srv).service).toBe('');
  });
  it('does not invent fields', () => {
    expect(applyVariables({ refId: 'A', queryType: 'ping' }, srv)).toEqual({ refId: 'A', queryType: 'ping' });
  });
});

describe('expandTargets', () => {
  it('leaves single-valued targets alone but substituted', () => {
    const e = expandTargets([{ refId: 'A', service: '$one', instance: '' }], srv);
    expect(e.targets).toEqual([{ refId: 'A', service: 'orders', instance: '' }]);
    expect(e.refIds.size).toBe(0);
  });
  it('splits multi values into uniquely named copies that map back', () => {
    const e = expandTargets(
      [
        { refId: 'A', queryType: 'ping', service: '$service', instance: '$inst' },
        { refId: 'A-orders-i1', queryType: 'ping', service: 'x' },
      ],
      srv
    );
    const ids = e.targets.map((t) => t.refId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(e.targets).toHaveLength(5);
    const copies = e.targets.filter((t) => e.refIds.get(t.refId) === 'A');
    expect(copies.map((t) => [t.service, t.instance])).toEqual([
      ['orders', 'i1'],
      ['orders', 'i2'],
      ['billing', 'i1'],
      ['billing', 'i2'],
    ]);
    // The name a copy would take was already used by another query: it gets a counter.
    expect(copies[0].refId).toBe('A-orders-i1-2');
    expect(e.targets[4]).toEqual({ refId: 'A-orders-i1', queryType: 'ping', service: 'x' });
  });
});
