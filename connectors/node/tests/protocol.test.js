'use strict';
// Unit tests of protocol.js: dates, secrets, the config check and argument parsing.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const protocol = require(path.join(__dirname, '..', 'protocol.js'));

test('dates: YYYY-MM-DD is midnight UTC, offsets are normalised, garbage is refused', () => {
  const format = (text) => protocol.formatInstant(protocol.parseInstant(text));
  assert.equal(format('2026-01-31'), '2026-01-31T00:00:00Z');
  assert.equal(format('2026-01-31T02:30:00+02:00'), '2026-01-31T00:30:00Z');
  assert.equal(format('2026-01-31 00:00:00.250'), '2026-01-31T00:00:00.250Z');
  for (const bad of ['yesterday', '2026-1-1', '', null, 'Jan 5 2026']) {
    assert.throws(() => protocol.parseInstant(bad), /expected YYYY-MM-DD/, String(bad));
  }
  assert.throws(() => protocol.parseInstant('2026-02-30'), /no such day/);
});

test('secrets: writeOnly values are found at any depth and masked longest first', () => {
  const schema = {
    properties: {
      apiToken: { type: 'string', writeOnly: true },
      oauth: { type: 'object', properties: { secret: { writeOnly: true } } },
      keys: { type: 'array', items: { writeOnly: true } },
      name: { type: 'string' },
    },
  };
  const config = { apiToken: 'tok-1', oauth: { secret: 'sec-2' }, keys: ['key-3'], name: 'visible' };
  assert.deepEqual(protocol.secretValues(schema, config).sort(), ['key-3', 'sec-2', 'tok-1']);
  const redact = protocol.redactor(['abcd', 'abcdef', 'ab']);
  assert.equal(redact('x abcdef y abcd z ab'), 'x *** y *** z ab');
});

test('config check: required, unknown keys and types, without quoting values', () => {
  const schema = { required: ['source'], additionalProperties: false, properties: { source: { type: 'string' }, n: { type: ['integer', 'null'] } } };
  assert.deepEqual(protocol.checkConfig(schema, { n: 1.5, colour: 'blue' }), [
    'source must be present',
    'unknown configuration key "colour"',
    'n: must be integer or null',
  ]);
  assert.deepEqual(protocol.checkConfig(schema, { source: 'x', n: null }), []);
  assert.deepEqual(protocol.checkConfig(schema, [1]), ['configuration: must be a JSON object']);
});

test('arguments: the four commands and their flags; anything else is a usage error', () => {
  assert.deepEqual(protocol.parseArgs(['spec']), { command: 'spec' });
  assert.deepEqual(protocol.parseArgs(['sync', '--config', 'c.json', '--since', '2026-01-01']), {
    command: 'sync', config: 'c.json', since: '2026-01-01',
  });
  assert.throws(() => protocol.parseArgs(['sink']), /unknown command "sink"/);
  assert.throws(() => protocol.parseArgs(['verify', '--since', 'x']), /unexpected argument --since/);
  assert.throws(() => protocol.parseArgs(['sync', '--since', '2026-01-01']), /need --config/);
  assert.throws(() => protocol.parseArgs(['discover', '--config']), /--config needs a value/);
});

test('recordSchema: a declared type requires _type, id and self, fixes _type and keeps the fields given', () => {
  const schema = protocol.recordSchema('AcmeWidget', { sprockets: { type: 'integer' } }, ['sprockets', 'id']);
  assert.deepEqual(schema.required, ['_type', 'id', 'self', 'sprockets']);
  assert.deepEqual(schema.properties._type, { const: 'AcmeWidget' });
  assert.deepEqual(schema.properties.sprockets, { type: 'integer' });
  assert.equal(schema.description, undefined);
});
