'use strict';
// Protocol version 1 of the connector toolkit, for connectors written in Node.js.
//
// Owns what every Node connector shares: the command line (spec, verify, discover, sync,
// and --config/--since/--stream/--state for running by hand), reading the config and sync
// messages from stdin, writing protocol messages to stdout, masking writeOnly (secret)
// values, a top-level check of the configuration, RFC 3339 dates, and recordSchema() for
// declaring a record type of your own. No dependencies; Node 18 or newer.
//
//   run(spec, { verify, discover, sync })
//
// verify(config, out) resolves to a list of problems (empty when valid); discover(config,
// out) calls out.stream(); sync(config, request, out) calls out.record() and out.state().
// Any of them may throw fail(kind, message).

const fs = require('node:fs');

const PROTOCOL_VERSION = 1;
const MASK = '***';
// Same rule as the Rust crate: masking every "a" in a log would protect nothing.
const MIN_SECRET_CHARS = 4;
const ERROR_KINDS = ['config', 'auth', 'rate_limited', 'transient', 'internal'];
const EXIT = { ok: 0, failure: 1, usage: 2 };
const COMMANDS = ['spec', 'verify', 'discover', 'sync'];

/** A fatal error: becomes one `error` message and exit status 1. */
class ConnectorFailure extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = ERROR_KINDS.includes(kind) ? kind : 'internal';
  }
}

/** Builds the error to throw to stop with an `error` message of `kind`. */
function fail(kind, message) {
  return new ConnectorFailure(kind, message);
}

// ---------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*([Zz]|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Parses YYYY-MM-DD (midnight UTC) or RFC 3339 into a Date; a time without offset is UTC.
 * Throws an Error naming the input and the accepted forms. Stricter than `new Date()`,
 * which accepts almost anything.
 */
function parseInstant(text) {
  const match = typeof text === 'string' ? INSTANT.exec(text.trim()) : null;
  const expected = 'expected YYYY-MM-DD (e.g. 2026-01-31) or RFC 3339 (e.g. 2026-01-31T12:00:00Z)';
  if (!match) throw new Error(`invalid date ${JSON.stringify(text)}: ${expected}`);
  const [, y, mo, d, h = '00', mi = '00', s = '00', fraction = '', offset = 'Z'] = match;
  const zone = /^[Zz]$/.test(offset) ? 'Z' : offset.replace(/^([+-]\d{2}):?(\d{2})$/, '$1:$2');
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}${fraction.slice(0, 4)}${zone}`);
  // Date rolls 2026-02-30 over to March; refuse days that do not exist instead.
  const probe = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (Number.isNaN(date.getTime()) || probe.getUTCDate() !== Number(d) || probe.getUTCMonth() !== Number(mo) - 1) {
    throw new Error(`invalid date ${JSON.stringify(text)}: no such day or time`);
  }
  return date;
}

/** RFC 3339 in UTC with Z, milliseconds only when there are any. */
function formatInstant(date) {
  return date.toISOString().replace('.000Z', 'Z');
}

// ---------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------

/** String values of `config` at properties `schema` marks writeOnly, at any depth. */
function secretValues(schema, config, inherited = false, found = []) {
  const node = schema && typeof schema === 'object' ? schema : {};
  const secret = inherited || node.writeOnly === true;
  if (typeof config === 'string' && secret) {
    found.push(config);
  } else if (Array.isArray(config)) {
    for (const item of config) secretValues(node.items, item, secret, found);
  } else if (config && typeof config === 'object') {
    const additional = typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined;
    for (const [key, child] of Object.entries(config)) {
      const childSchema = (node.properties || {})[key] || additional;
      if (childSchema || secret) secretValues(childSchema, child, secret, found);
    }
  }
  return found;
}

/** Replaces every secret with ***; longest first, so a secret containing another is masked whole. */
function redactor(secrets) {
  const kept = [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET_CHARS).sort((a, b) => b.length - a.length);
  return (text) => kept.reduce((acc, secret) => acc.split(secret).join(MASK), String(text));
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

/** Writes protocol messages, one JSON line each, to stdout. Node writes to pipes and
 * files synchronously on Linux and macOS, so process.exit() never loses a line. */
class Emitter {
  constructor(stream = process.stdout) {
    this.out = stream;
    this.redact = (text) => String(text);
  }

  message(message) {
    this.out.write(`${JSON.stringify(message)}\n`);
  }

  spec(spec) {
    this.message({ type: 'spec', protocol: PROTOCOL_VERSION, ...spec });
  }

  verification(errors) {
    const masked = errors.map(this.redact);
    this.message(masked.length ? { type: 'verification', valid: false, errors: masked } : { type: 'verification', valid: true });
  }

  /** A Stream: `{ id, self, name }` and any optional field as it is, e.g. `fullRefresh: true`
   * for a stream with no incremental mode (PROTOCOL.md, stream). */
  stream(stream) {
    this.message({ type: 'stream', stream: { _type: 'Stream', ...stream } });
  }

  record(record, extractedAt = new Date()) {
    this.message({ type: 'record', record, extracted_at: formatInstant(extractedAt) });
  }

  /** A checkpoint: it must cover every record emitted before it. */
  state(state) {
    this.message({ type: 'state', state });
  }

  log(level, text) {
    this.message({ type: 'log', level, message: this.redact(text) });
  }
}

// ---------------------------------------------------------------------------------------
// Configuration check
// ---------------------------------------------------------------------------------------

const JSON_TYPES = {
  object: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
  array: Array.isArray,
  string: (v) => typeof v === 'string',
  boolean: (v) => typeof v === 'boolean',
  integer: Number.isInteger,
  number: (v) => typeof v === 'number',
  null: (v) => v === null,
};

/** Top-level problems: required keys, unknown keys (additionalProperties false), JSON
 * types. Never quotes values: a mistyped secret is still a secret. */
function checkConfig(schema, config) {
  if (!JSON_TYPES.object(config)) return ['configuration: must be a JSON object'];
  const properties = schema.properties || {};
  const problems = (schema.required || []).filter((k) => !(k in config)).map((k) => `${k} must be present`);
  if (schema.additionalProperties === false) {
    for (const key of Object.keys(config)) {
      if (!(key in properties)) problems.push(`unknown configuration key "${key}"`);
    }
  }
  for (const [key, value] of Object.entries(config)) {
    const expected = [].concat((properties[key] || {}).type || []);
    if (expected.length && !expected.some((t) => (JSON_TYPES[t] || (() => true))(value))) {
      problems.push(`${key}: must be ${expected.join(' or ')}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------

const USAGE = `usage: CONNECTOR spec
       CONNECTOR verify   [--config FILE]
       CONNECTOR discover [--config FILE]
       CONNECTOR sync     [--config FILE --since DATE [--stream ID|JSON] [--state FILE]]
The runner sends the configuration on stdin; pass --config FILE to run by hand.`;

class UsageError extends Error {}

/** `{ command, config, since, stream, state }` from argv. */
function parseArgs(argv) {
  const [command, ...rest] = argv;
  if (!COMMANDS.includes(command)) throw new UsageError(`unknown command ${JSON.stringify(command ?? '')}`);
  const allowed = command === 'sync' ? ['config', 'since', 'stream', 'state'] : command === 'spec' ? [] : ['config'];
  const args = { command };
  for (let i = 0; i < rest.length; i += 2) {
    const flag = rest[i].replace(/^--/, '');
    if (!rest[i].startsWith('--') || !allowed.includes(flag)) throw new UsageError(`unexpected argument ${rest[i]}`);
    if (rest[i + 1] === undefined) throw new UsageError(`${rest[i]} needs a value`);
    args[flag] = rest[i + 1];
  }
  if (!args.config && (args.since || args.stream || args.state)) throw new UsageError('--since, --stream and --state need --config');
  return args;
}

function readJsonFile(path, what) {
  let text;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (error) {
    throw fail('config', `cannot read ${what} ${path}: ${error.code || error.message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw fail('config', `${what} ${path} is not valid JSON: ${error.message}`);
  }
}

/** The runner's messages: all of stdin, read once (the runner closes it after the last one). */
function readStdinMessages() {
  if (process.stdin.isTTY) {
    throw fail('config', 'no configuration: pass --config FILE to run by hand (the runner sends it on stdin)');
  }
  let text;
  try {
    text = fs.readFileSync(0, 'utf8');
  } catch (error) {
    throw fail('config', `cannot read stdin: ${error.code || error.message}`);
  }
  return text.split('\n').filter((line) => line.trim()).map((line, index) => {
    try {
      return JSON.parse(line);
    } catch (error) {
      throw fail('config', `stdin line ${index + 1}: not a runner message: ${error.message}`);
    }
  });
}

function expectMessage(messages, index, type) {
  const message = messages[index];
  if (!message) throw fail('config', `stdin closed before a ${type} message arrived (run by hand with --config FILE)`);
  if (message.type !== type) throw fail('config', `stdin line ${index + 1}: expected a ${type} message`);
  return message;
}

function readConfig(args, stdin) {
  if (args.config) {
    const value = readJsonFile(args.config, 'configuration file');
    return value && value.type === 'config' ? value.config : value;
  }
  const message = expectMessage(stdin(), 0, 'config');
  if (message.protocol !== PROTOCOL_VERSION) {
    throw fail('config', `the runner speaks protocol ${JSON.stringify(message.protocol)}, this connector speaks protocol ${PROTOCOL_VERSION}`);
  }
  return message.config;
}

function cutoffFrom(text, what) {
  try {
    return parseInstant(text);
  } catch (error) {
    throw fail('config', `${what}: ${error.message}`);
  }
}

/** `{ stream, cutoff (Date), state (or null) }` from stdin or from the debug flags. */
async function readSyncRequest(args, stdin, discovered) {
  if (!args.config) {
    const message = expectMessage(stdin(), 1, 'sync');
    if (!message.stream || typeof message.stream.id !== 'string') throw fail('config', 'sync message: stream must be a Stream record');
    const cutoff = cutoffFrom(message.earliest_data_cutoff, 'earliest_data_cutoff');
    return { stream: message.stream, cutoff, state: message.state ?? null };
  }
  if (!args.since) throw fail('config', '--since DATE is required with --config');
  const cutoff = cutoffFrom(args.since, '--since');
  const state = args.state ? readJsonFile(args.state, 'state file') : null;
  return { stream: await pickStream(args.stream, discovered), cutoff, state };
}

async function pickStream(selector, discovered) {
  if (selector && selector.trim().startsWith('{')) {
    try {
      return JSON.parse(selector);
    } catch (error) {
      throw fail('config', `--stream is not a Stream record: ${error.message}`);
    }
  }
  const streams = await discovered();
  if (!selector && streams.length === 1) return streams[0];
  const found = streams.find((s) => s.id === selector);
  if (!found) throw fail('config', `no stream with id "${selector ?? ''}" (discovered: ${streams.map((s) => s.id).join(', ')})`);
  return found;
}

// ---------------------------------------------------------------------------------------
// Dispatch
// ---------------------------------------------------------------------------------------

/** Runs the command from process.argv and exits: 0 success, 1 after an `error`
 * message, 2 for a bad command line (message on stderr). */
async function run(spec, handlers, argv = process.argv.slice(2)) {
  // The reader went away (e.g. `| head`): nobody is left to tell, so exit quietly.
  process.stdout.on('error', (error) => process.exit(error.code === 'EPIPE' ? EXIT.ok : EXIT.failure));
  let args;
  try {
    args = parseArgs(argv);
  } catch (error) {
    process.stderr.write(`error: ${error.message}\n${USAGE}\n`);
    process.exit(EXIT.usage);
  }
  const out = new Emitter();
  try {
    await dispatch(args, spec, handlers, out);
    process.exit(EXIT.ok);
  } catch (error) {
    const kind = error instanceof ConnectorFailure ? error.kind : 'internal';
    const text = out.redact(error instanceof ConnectorFailure ? error.message : `${error.name}: ${error.message}`);
    out.message({ type: 'error', message: text || kind, kind });
    process.stderr.write(`error: ${text}\n`);
    process.exit(EXIT.failure);
  }
}

async function dispatch(args, spec, handlers, out) {
  if (args.command === 'spec') return out.spec(spec);
  let cached;
  const stdin = () => (cached ??= readStdinMessages());
  const config = readConfig(args, stdin);
  out.redact = redactor(secretValues(spec.config_schema, config));
  const problems = checkConfig(spec.config_schema || {}, config);
  if (args.command === 'verify') return out.verification(problems.length ? problems : await handlers.verify(config, out));
  if (problems.length) throw fail('config', `invalid configuration: ${problems.join('; ')}`);
  if (args.command === 'discover') return handlers.discover(config, out);
  const request = await readSyncRequest(args, stdin, () => discoveredStreams(handlers, config));
  return handlers.sync(config, request, out);
}

/**
 * A JSON Schema for a record type of your own, to declare in the spec under
 * `record_schemas: { [typeName]: recordSchema(...) }` when no shared type fits. It adds
 * what every record has (`_type` fixed to typeName, `id`, `self`, all required) to your
 * `properties` and `required`. The runner validates your records against it like a shared
 * type; it refuses a shared type's name (e.g. Incident) and a name that is not PascalCase.
 */
function recordSchema(typeName, properties, required = [], description = undefined) {
  const base = ['_type', 'id', 'self'];
  const schema = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: typeName,
    type: 'object',
    required: [...base, ...required.filter((name) => !base.includes(name))],
    properties: {
      _type: { const: typeName },
      id: { type: 'string', minLength: 1 },
      self: { type: 'string', format: 'uri' },
      ...properties,
    },
  };
  if (description) schema.description = description;
  return schema;
}

async function discoveredStreams(handlers, config) {
  const streams = [];
  await handlers.discover(config, { stream: (s) => streams.push({ _type: 'Stream', ...s }), log() {} });
  return streams;
}

module.exports = {
  PROTOCOL_VERSION,
  Emitter,
  checkConfig,
  fail,
  formatInstant,
  parseArgs,
  parseInstant,
  recordSchema,
  redactor,
  run,
  secretValues,
};
