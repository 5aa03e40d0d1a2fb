//! node:test for preview/frames.mjs: Arrow IPC frames as the backend writes them → Grafana's DataFrameJSON.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  Bool,
  Field,
  Float64,
  Int64,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampNanosecond,
  Utf8,
  makeData,
  tableToIPC,
  vectorFromArray,
} from 'apache-arrow';

import { arrowToDataFrameJSON, dataResponseToJSON } from '../../preview/frames.mjs';

/** One frame as Arrow IPC file bytes, with Grafana's schema and field metadata. */
function ipc(columns, schemaMeta) {
  const fields = columns.map(
    (c) => new Field(c.name, c.type, c.nullable ?? false, new Map(Object.entries({ name: c.name, ...(c.meta ?? {}) })))
  );
  const schema = new Schema(fields, new Map(Object.entries(schemaMeta)));
  // Raw timestamps (BigInt nanoseconds) go straight into the buffer: vectorFromArray takes milliseconds.
  const children = columns.map((c) =>
    typeof c.values[0] === 'bigint'
      ? makeData({ type: c.type, length: c.values.length, data: BigInt64Array.from(c.values) })
      : vectorFromArray(c.values, c.type).data[0]
  );
  const length = columns[0].values.length;
  const batch = new RecordBatch(schema, makeData({ type: new Struct(fields), length, children }));
  return tableToIPC(new Table([batch]), 'file');
}

test('schema metadata, labels and config together, types and typeInfo', () => {
  const bytes = ipc(
    [
      { name: 'service', type: new Utf8(), values: ['orders', 'billing'] },
      {
        name: 'rtt',
        type: new Float64(),
        nullable: true,
        values: [1.5, null],
        meta: { labels: '{"service":"orders"}', config: '{"unit":"ms","displayNameFromDS":"RTT"}' },
      },
      { name: 'requests', type: new Int64(), values: [5n, 7n] },
      { name: 'ok', type: new Bool(), values: [true, false] },
    ],
    { name: 'ping', refId: 'A', meta: '{"type":"numeric-long","typeVersion":[0,1]}' }
  );
  const f = arrowToDataFrameJSON(bytes);
  assert.equal(f.schema.name, 'ping');
  assert.equal(f.schema.refId, 'A');
  assert.deepEqual(f.schema.meta, { type: 'numeric-long', typeVersion: [0, 1] });
  assert.deepEqual(
    f.schema.fields.map((x) => [x.name, x.type, x.typeInfo.frame, x.typeInfo.nullable ?? false]),
    [
      ['service', 'string', 'string', false],
      ['rtt', 'number', 'float64', true],
      ['requests', 'number', 'int64', false],
      ['ok', 'boolean', 'bool', false],
    ]
  );
  assert.deepEqual(f.schema.fields[1].labels, { service: 'orders' });
  assert.deepEqual(f.schema.fields[1].config, { unit: 'ms', displayNameFromDS: 'RTT' });
  assert.deepEqual(f.data.values, [
    ['orders', 'billing'],
    [1.5, null],
    [5, 7],
    [true, false],
  ]);
  assert.equal(f.data.entities, undefined);
});

test('time fields become epoch ms with sub-millisecond nanos kept aside', () => {
  const bytes = ipc(
    [
      {
        name: 'time',
        type: new TimestampNanosecond(),
        values: [1700000000123456789n, 1700000001000000000n],
      },
      { name: 'rtt', type: new Float64(), values: [1, 2] },
    ],
    { name: 'rtt orders', refId: 'B' }
  );
  const f = arrowToDataFrameJSON(bytes);
  assert.equal(f.schema.fields[0].type, 'time');
  assert.equal(f.schema.fields[0].typeInfo.frame, 'time.Time');
  assert.deepEqual(f.data.values[0], [1700000000123, 1700000001000]);
  assert.deepEqual(f.data.nanos, [[456789, 0], null]);
});

test('NaN and infinities travel as entities, like Grafana', () => {
  const bytes = ipc([{ name: 'v', type: new Float64(), values: [1, NaN, Infinity, -Infinity] }], { refId: 'C' });
  const f = arrowToDataFrameJSON(bytes);
  assert.deepEqual(f.data.values[0], [1, null, null, null]);
  assert.deepEqual(f.data.entities, [{ NaN: [1], Inf: [2], NegInf: [3] }]);
  assert.equal(f.schema.name, undefined);
});

test('a DataResponse: frames with status, or the error of its refId', () => {
  const bytes = ipc([{ name: 'v', type: new Float64(), values: [1] }], { refId: 'A' });
  const ok = dataResponseToJSON({ frames: [bytes], error: '', status: 200 });
  assert.equal(ok.status, 200);
  assert.equal(ok.frames.length, 1);
  assert.equal(ok.error, undefined);
  const bad = dataResponseToJSON({ frames: [], error: "unknown queryType 'x'", status: 400 });
  assert.deepEqual(bad, { status: 400, error: "unknown queryType 'x'" });
  assert.equal(dataResponseToJSON({ frames: [], error: 'boom', status: 0 }).status, 500);
});

test('frame metadata that is not JSON is reported, not swallowed', () => {
  const bytes = ipc([{ name: 'v', type: new Float64(), values: [1] }], { refId: 'A', meta: '{nope' });
  assert.throws(() => arrowToDataFrameJSON(bytes), /meta is not JSON/);
});
