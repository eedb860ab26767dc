'use strict';
// statuspage-json run as a child process, the way the runner runs it: messages on stdin,
// protocol lines on stdout. The HTTP tests serve the document from a loopback server
// started here, so the child is spawned asynchronously (the server must keep answering).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const CONNECTOR = path.join(__dirname, '..', 'statuspage-json');
const EXAMPLE = path.join(__dirname, '..', 'examples', 'incidents.json');
const CUTOFF = '2026-01-01T00:00:00Z';

/** Runs the connector; resolves to { code, messages, stderr }. Every line of stdout must be
 * a protocol message (a JSON object with a string type), as the runner requires. */
function run(command, { config, sync, args = [], stdin } = {}) {
  let input = stdin;
  if (input === undefined) {
    input = config === undefined ? '' : `${JSON.stringify({ type: 'config', protocol: 1, config })}\n`;
    if (sync) input += `${JSON.stringify({ type: 'sync', ...sync })}\n`;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(CONNECTOR, [command, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        const messages = stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line));
        for (const m of messages) assert.ok(m && typeof m === 'object' && typeof m.type === 'string', `not a protocol message on stdout: ${JSON.stringify(m)}`);
        resolve({ code, messages, stderr });
      } catch (error) {
        reject(error);
      }
    });
    child.stdin.end(input);
  });
}

const ofType = (messages, type) => messages.filter((m) => m.type === type);
const ids = (messages) => ofType(messages, 'record').map((m) => m.record.id);

async function syncOnce(config, state = null, cutoff = CUTOFF) {
  const { messages } = await run('discover', { config });
  const stream = ofType(messages, 'stream')[0].stream;
  return run('sync', { config, sync: { stream, earliest_data_cutoff: cutoff, state } });
}

function assertIncident(record) {
  for (const field of ['_type', 'id', 'self', 'title', 'status', 'createdAt']) assert.ok(field in record, field);
  assert.equal(record._type, 'Incident');
  assert.ok(['triggered', 'acknowledged', 'resolved'].includes(record.status), record.status);
  assert.match(record.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assert.match(record.self, /^[a-z][a-z0-9+.-]*:/);
}

let dir;
before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statuspage-json-')); });
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeDocument(name, incidents) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify({ page: { id: 'pg1', name: 'Test page' }, incidents }));
  return file;
}

const incident = (id, updated, extra = {}) => ({
  id, name: `Incident ${id}`, status: 'investigating', created_at: '2026-02-01T00:00:00Z', updated_at: updated, ...extra,
});

test('spec names the connector and its config schema', async () => {
  const { code, messages } = await run('spec');
  assert.equal(code, 0);
  assert.equal(messages.length, 1);
  assert.deepEqual([messages[0].type, messages[0].protocol, messages[0].name], ['spec', 1, 'statuspage-json']);
  assert.deepEqual(messages[0].record_types, ['Incident']);
  assert.deepEqual(messages[0].config_schema.required, ['source']);
});

test('verify answers valid, or invalid with the reason, and exits 0 either way', async () => {
  assert.deepEqual((await run('verify', { config: { source: EXAMPLE } })).messages, [{ type: 'verification', valid: true }]);
  const notADocument = path.join(dir, 'not-a-document.json');
  fs.writeFileSync(notADocument, '{"page":{}}');
  const cases = [
    [{}, 'source must be present'],
    [{ source: EXAMPLE, colour: 'blue' }, 'unknown configuration key "colour"'],
    [{ source: 42 }, 'source: must be string'],
    [{ source: path.join(dir, 'missing.json') }, 'ENOENT'],
    [{ source: notADocument }, 'no "incidents" array'],
  ];
  for (const [config, expected] of cases) {
    const { code, messages } = await run('verify', { config });
    assert.equal(code, 0, expected);
    assert.equal(messages.length, 1, expected);
    assert.equal(messages[0].valid, false, expected);
    assert.ok(messages[0].errors.some((e) => e.includes(expected)), `${expected} in ${messages[0].errors}`);
  }
});

test('discover emits one stream named after the page', async () => {
  const { code, messages } = await run('discover', { config: { source: EXAMPLE, pageName: 'Acme' } });
  assert.equal(code, 0);
  assert.deepEqual(messages, [{ type: 'stream', stream: { _type: 'Stream', id: 'kctbh9vrtdwd', self: 'https://status.acme.example', name: 'Acme' } }]);
});

test('sync maps the example newest first back to the cutoff', async () => {
  const { code, messages } = await syncOnce({ source: EXAMPLE });
  assert.equal(code, 0);
  // Most recently updated first.
  assert.deepEqual(ids(messages), ['p31zjtct2jer', 'yh8jwzv9b7ks', 'cq0pbyy6bd5m']);
  const byId = Object.fromEntries(ofType(messages, 'record').map((m) => [m.record.id, m.record]));
  Object.values(byId).forEach(assertIncident);
  assert.equal(byId.p31zjtct2jer.status, 'acknowledged'); // monitoring
  assert.equal(byId.p31zjtct2jer.createdAt, '2026-02-04T13:01:10Z'); // -05:00 normalised
  assert.equal(byId.p31zjtct2jer.urgency, 'high'); // impact major
  assert.equal(byId.p31zjtct2jer.description, 'A fix has been deployed; we are monitoring.');
  assert.deepEqual(byId.p31zjtct2jer.service, { id: '8l4ygp009s5s', type: 'component', summary: 'API' });
  assert.equal(byId.cq0pbyy6bd5m.status, 'resolved'); // postmortem
  assert.equal(byId.yh8jwzv9b7ks.status, 'triggered'); // investigating
  assert.ok(!('mxv3z0k8d2pq' in byId), 'created before the cutoff');
  // Then one checkpoint, after every record (only logs may follow it).
  assert.deepEqual(messages.filter((m) => m.type !== 'log').map((m) => m.type), ['record', 'record', 'record', 'state']);
  assert.deepEqual(ofType(messages, 'state'), [{ type: 'state', state: { updatedAt: '2026-02-04T14:12:00Z', idsAtUpdatedAt: ['p31zjtct2jer'] } }]);
});

test('a rerun with the state emits only incidents updated since, ties included', async () => {
  const file = writeDocument('rerun.json', [incident('A', '2026-02-01T10:00:00Z'), incident('B', '2026-02-02T10:00:00Z')]);
  const first = await syncOnce({ source: file });
  assert.deepEqual(ids(first.messages), ['B', 'A']);
  const state = ofType(first.messages, 'state').at(-1).state;
  writeDocument('rerun.json', [
    incident('A', '2026-02-03T10:00:00Z', { status: 'resolved', resolved_at: '2026-02-03T10:00:00Z' }),
    incident('B', '2026-02-02T10:00:00Z'),
    incident('C', '2026-02-02T10:00:00Z'),
  ]);
  const second = await syncOnce({ source: file }, state);
  assert.equal(second.code, 0);
  assert.deepEqual(ids(second.messages), ['A', 'C']);
  assert.equal(ofType(second.messages, 'record')[0].record.status, 'resolved');
  const secondState = ofType(second.messages, 'state').at(-1).state;
  assert.deepEqual(secondState, { updatedAt: '2026-02-03T10:00:00Z', idsAtUpdatedAt: ['A'] });
  // Nothing changed since: a third sync succeeds, emits nothing and keeps the state.
  const third = await syncOnce({ source: file }, secondState);
  assert.equal(third.code, 0, third.stderr);
  assert.deepEqual(ids(third.messages), []);
  assert.deepEqual(ofType(third.messages, 'state').at(-1).state, secondState);
});

test('bad incidents are skipped with a warning naming their position', async () => {
  const file = writeDocument('bad.json', [
    incident('ok', '2026-02-01T10:00:00Z'),
    incident('late', 'tomorrow'),
    incident('odd', '2026-02-01T10:00:00Z', { status: 'on fire' }),
    { name: 'no id', status: 'resolved', created_at: '2026-02-01T00:00:00Z' },
  ]);
  const { code, messages } = await syncOnce({ source: file });
  assert.equal(code, 0);
  assert.deepEqual(ids(messages), ['ok']);
  const warnings = ofType(messages, 'log').filter((m) => m.level === 'warn').map((m) => m.message);
  assert.equal(warnings.length, 3);
  assert.match(warnings[0], /^incidents\[1\] \(id late\) skipped: updated_at: invalid date "tomorrow"/);
  assert.match(warnings[1], /^incidents\[2\] \(id odd\) skipped: status "on fire"/);
  assert.match(warnings[2], /^incidents\[3\] skipped: id is missing/);
});

test('debug flags: --config, --since, --stream and --state', async () => {
  const configFile = path.join(dir, 'config.json');
  const stateFile = path.join(dir, 'state.json');
  fs.writeFileSync(configFile, JSON.stringify({ source: EXAMPLE }));
  fs.writeFileSync(stateFile, JSON.stringify({ updatedAt: '2026-02-03T14:15:22Z', idsAtUpdatedAt: ['yh8jwzv9b7ks'] }));
  const args = ['--config', configFile, '--since', '2026-01-01', '--stream', 'kctbh9vrtdwd', '--state', stateFile];
  const { code, messages } = await run('sync', { args, stdin: '' });
  assert.equal(code, 0);
  assert.deepEqual(ids(messages), ['p31zjtct2jer']);
  const wrong = await run('sync', { args: ['--config', configFile, '--since', '2026-01-01', '--stream', 'nope'], stdin: '' });
  assert.equal(wrong.code, 1);
  assert.match(wrong.messages.at(-1).message, /no stream with id "nope" \(discovered: kctbh9vrtdwd\)/);
});

test('protocol errors: unknown command, closed stdin, other protocol version', async () => {
  const usage = await run('frobnicate');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown command "frobnicate"/);
  assert.deepEqual(usage.messages, [], 'a usage error prints nothing on stdout');
  const closed = await run('sync', { stdin: '' });
  assert.equal(closed.code, 1);
  assert.deepEqual(closed.messages.map((m) => [m.type, m.kind]), [['error', 'config']]);
  const version = await run('discover', { stdin: `${JSON.stringify({ type: 'config', protocol: 2, config: { source: EXAMPLE } })}\n` });
  assert.equal(version.code, 1);
  assert.match(version.messages.at(-1).message, /runner speaks protocol 2/);
  const noSync = await run('sync', { config: { source: EXAMPLE } });
  assert.equal(noSync.code, 1);
  assert.match(noSync.messages.at(-1).message, /before a sync message/);
});

test('over HTTP on loopback: sync reads the URL, and HTTP failures map to error kinds', async () => {
  const document = fs.readFileSync(EXAMPLE);
  const server = http.createServer((req, res) => {
    const status = { '/incidents.json': 200, '/denied.json': 401, '/busy.json': 429, '/broken.json': 503 }[req.url] ?? 404;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(status === 200 ? document : '{"error":"no"}');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    const { code, messages } = await syncOnce({ source: `${base}/incidents.json` });
    assert.equal(code, 0);
    assert.equal(ids(messages).length, 3);
    assert.equal(ofType(messages, 'record')[0].record.self, `${base}/incidents.json#p31zjtct2jer`);
    const stream = { _type: 'Stream', id: 'x', self: base, name: 'x' };
    const expected = { denied: 'auth', busy: 'rate_limited', broken: 'transient', missing: 'config' };
    for (const [name, kind] of Object.entries(expected)) {
      const failed = await run('sync', { config: { source: `${base}/${name}.json` }, sync: { stream, earliest_data_cutoff: CUTOFF, state: null } });
      assert.equal(failed.code, 1, name);
      assert.deepEqual([failed.messages.at(-1).type, failed.messages.at(-1).kind], ['error', kind], name);
    }
  } finally {
    server.close();
  }
});
