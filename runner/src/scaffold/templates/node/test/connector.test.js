'use strict';
// connector-{{slug}} run as a child process, the way the runner runs it: messages on stdin,
// protocol lines on stdout. Run with `node --test` (or `npm test`) from the project directory.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const CONNECTOR = path.join(__dirname, '..', 'connector-{{slug}}');
const TOKEN = 't0k3n-for-tests';
const STREAM = { _type: 'Stream', id: 'example-account', self: 'https://api.example.com', name: 'x' };

/** Runs `connector-{{slug}} COMMAND` with `stdin`: { code, messages, stderr }. */
function run(command, stdin = '') {
  const result = spawnSync(CONNECTOR, [command], { input: stdin, encoding: 'utf8', timeout: 60_000 });
  const messages = result.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line));
  return { code: result.status, messages, stderr: result.stderr };
}

const configLine = (config) => `${JSON.stringify({ type: 'config', protocol: 1, config })}\n`;
const ofType = (messages, type) => messages.filter((m) => m.type === type);
const ids = (messages) => ofType(messages, 'record').map((m) => m.record.id);

function syncStdin(state = null, cutoff = '2026-01-01T00:00:00Z') {
  const sync = { type: 'sync', stream: STREAM, earliest_data_cutoff: cutoff, state };
  return `${configLine({ apiToken: TOKEN })}${JSON.stringify(sync)}\n`;
}

test('spec names the connector and marks the token secret', () => {
  const { code, messages } = run('spec');
  assert.equal(code, 0);
  assert.equal(messages.length, 1);
  assert.equal(messages[0].name, '{{slug}}');
  assert.equal(messages[0].config_schema.properties.apiToken.writeOnly, true);
});

test('verify answers for good and bad configurations and exits 0', () => {
  const cases = [
    [{ apiToken: TOKEN }, { type: 'verification', valid: true }],
    [{}, { type: 'verification', valid: false, errors: ['apiToken must be present'] }],
    [{ apiToken: TOKEN, apiBaseUrl: 12345 }, { type: 'verification', valid: false, errors: ['apiBaseUrl: must be string'] }],
  ];
  for (const [config, answer] of cases) {
    const { code, messages } = run('verify', configLine(config));
    assert.deepEqual({ code, messages }, { code: 0, messages: [answer] });
  }
  const spaced = run('verify', configLine({ apiToken: 't0k3n with a space' }));
  assert.equal(spaced.messages[0].valid, false);
  assert.ok(!JSON.stringify(spaced.messages).includes('with a space'), 'the token is never quoted');
});

test('discover emits the account stream', () => {
  const { code, messages } = run('discover', configLine({ apiToken: TOKEN }));
  assert.equal(code, 0);
  assert.equal(ofType(messages, 'stream')[0].stream.id, 'example-account');
});

test('sync emits pages with checkpoints, then resumes from the last one', () => {
  const first = run('sync', syncStdin());
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(ids(first.messages), ['EX-5', 'EX-4', 'EX-3', 'EX-2', 'EX-1']);
  const states = ofType(first.messages, 'state').map((m) => m.state);
  assert.equal(states.length, 3, 'one checkpoint per page');
  assert.deepEqual(states[2], { version: 1, syncedThrough: '2026-03-14T09:26:53Z', unfinished: null });
  assert.deepEqual(ids(run('sync', syncStdin(states[2])).messages), [], 'nothing new since the last checkpoint');
  assert.deepEqual(ids(run('sync', syncStdin(states[0])).messages), ['EX-3', 'EX-2', 'EX-1']);
});

test('nothing older than the cutoff is emitted', () => {
  assert.deepEqual(ids(run('sync', syncStdin(null, '2026-02-15T00:00:00Z')).messages), ['EX-5', 'EX-4', 'EX-3']);
});

test('the token never appears in any output', () => {
  for (const command of ['verify', 'discover', 'sync']) {
    const { messages, stderr } = run(command, syncStdin());
    assert.ok(!(JSON.stringify(messages) + stderr).includes(TOKEN), command);
  }
});

test('closed stdin is a config error, not a hang', () => {
  const { code, messages } = run('sync');
  assert.equal(code, 1);
  assert.equal(ofType(messages, 'error')[0].kind, 'config');
});

test('an unknown command is a usage error', () => {
  const { code, messages, stderr } = run('frobnicate');
  assert.equal(code, 2);
  assert.deepEqual(messages, []);
  assert.ok(stderr.length > 0);
});
