"""Protocol version 1 of the connector toolkit, for connectors written in Python.

This module owns everything that is the same for every Python connector: the command
line (``spec``, ``verify``, ``discover``, ``sync`` and the ``--config``/``--since``/
``--stream``/``--state`` flags for running by hand), reading the ``config`` and ``sync``
messages from stdin, writing protocol messages to stdout, hiding secret (``writeOnly``)
values, a light check of the configuration against the spec's ``config_schema``, and
RFC 3339 date helpers, and :func:`record_schema` for declaring a record type of your own.
Standard library only; Python 3.9 or newer.

A connector describes itself with a spec and three functions, then calls :func:`run`::

    run(SPEC, verify=verify, discover=discover, sync=sync)

``verify(config, out)`` returns a list of problems (empty when valid); ``discover(config,
out)`` calls ``out.stream(...)``; ``sync(config, request, out)`` calls
``out.record(...)`` and ``out.state(...)``. Any of them may call :func:`fail`.
"""

import argparse
import datetime as _dt
import json
import re
import sys

PROTOCOL_VERSION = 1
MASK = "***"
# Secrets shorter than this are not masked: hiding every "a" in a log protects nothing
# and makes it unreadable (same rule as the Rust protocol crate).
MIN_SECRET_CHARS = 4

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

ERROR_KINDS = ("config", "auth", "rate_limited", "transient", "internal")
LOG_LEVELS = ("error", "warn", "info", "debug")


class ConnectorFailure(Exception):
    """A fatal error: becomes one ``error`` message and exit status 1."""

    def __init__(self, kind, message):
        if kind not in ERROR_KINDS:
            kind = "internal"
        super().__init__(message)
        self.kind = kind
        self.message = message


def fail(kind, message):
    """Stops the connector with an ``error`` message of ``kind`` (config, auth,
    rate_limited, transient, internal); :func:`run` prints it and exits 1."""
    raise ConnectorFailure(kind, message)


# ---------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------

_INSTANT = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"\s*([Zz]|[+-]\d{2}:?\d{2})?)?$"
)


def parse_instant(text):
    """Parses ``YYYY-MM-DD`` (midnight UTC) or an RFC 3339 timestamp into an aware UTC
    datetime. A space may replace the ``T``; a time without offset is read as UTC.
    Raises ``ValueError`` naming the input and the accepted forms."""
    match = _INSTANT.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(
            "invalid date %s: expected YYYY-MM-DD (e.g. 2026-01-31) or RFC 3339 "
            "(e.g. 2026-01-31T12:00:00Z)" % json.dumps(text)
        )
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        instant = _dt.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micros,
            tzinfo=_parse_offset(offset),
        )
    except ValueError:
        raise ValueError("invalid date %s: no such day or time" % json.dumps(text)) from None
    return instant.astimezone(_dt.timezone.utc)


def _parse_offset(offset):
    if not offset or offset in ("Z", "z"):
        return _dt.timezone.utc
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    return _dt.timezone(sign * _dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def format_instant(instant):
    """RFC 3339 in UTC with ``Z``, fractional seconds only when there are any (the form
    the Rust crates write)."""
    instant = instant.astimezone(_dt.timezone.utc)
    text = instant.strftime("%Y-%m-%dT%H:%M:%S")
    if instant.microsecond:
        text += (".%06d" % instant.microsecond).rstrip("0")
    return text + "Z"


def now():
    """The current instant, as an aware UTC datetime."""
    return _dt.datetime.now(_dt.timezone.utc)


# ---------------------------------------------------------------------------------------
# Declared record types
# ---------------------------------------------------------------------------------------


def record_schema(type_name, properties, required=(), description=None):
    """A JSON Schema for a record type of your own, to declare in the spec under
    ``"record_schemas": {type_name: record_schema(...)}`` when no shared type fits.

    It adds what every record has (``_type`` fixed to ``type_name``, ``id``, ``self``, all
    required) to your ``properties`` and ``required`` fields. The runner validates your
    records against it like a shared type; it refuses a shared type's name (e.g.
    ``Incident``) and a name that is not PascalCase letters and digits."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": type_name,
        "type": "object",
        "required": ["_type", "id", "self"] + [name for name in required if name not in ("_type", "id", "self")],
        "properties": dict(
            {
                "_type": {"const": type_name},
                "id": {"type": "string", "minLength": 1},
                "self": {"type": "string", "format": "uri"},
            },
            **properties
        ),
    }
    if description:
        schema["description"] = description
    return schema


# ---------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------


def secret_values(schema, config):
    """String values of ``config`` at properties ``schema`` marks ``"writeOnly": true``,
    following nested ``properties``, ``additionalProperties`` and ``items``."""
    found = []
    _collect_secrets(schema if isinstance(schema, dict) else {}, config, False, found)
    return found


def _collect_secrets(schema, value, inherited, found):
    secret = inherited or schema.get("writeOnly") is True
    if isinstance(value, str) and secret:
        found.append(value)
    elif isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, child in value.items():
            child_schema = properties.get(key, additional if isinstance(additional, dict) else None)
            if child_schema is not None or secret:
                _collect_secrets(child_schema or {}, child, secret, found)
    elif isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        for item in value:
            _collect_secrets(items, item, secret, found)


class Redactor:
    """Replaces every secret value in a text with ``***``."""

    def __init__(self, secrets=()):
        kept = {s for s in secrets if len(s) >= MIN_SECRET_CHARS}
        # Longest first, so a secret containing another is masked whole.
        self.secrets = sorted(kept, key=len, reverse=True)

    def redact(self, text):
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


# ---------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------


class Emitter:
    """Writes protocol messages, one JSON line each, to stdout.

    Every message is flushed at once: a Python connector is rarely fast enough for
    buffering to matter, and the runner's idle timeout must see progress."""

    def __init__(self, stream=None):
        self._out = stream if stream is not None else sys.stdout
        self.redactor = Redactor()
        self.records = 0

    def message(self, message):
        self._out.write(json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._out.flush()

    def spec(self, spec):
        self.message(dict({"type": "spec", "protocol": PROTOCOL_VERSION}, **spec))

    def verification(self, errors):
        errors = [self.redactor.redact(e) for e in errors]
        message = {"type": "verification", "valid": not errors}
        if errors:
            message["errors"] = errors
        self.message(message)

    def stream(self, stream_id, self_url, name, **extra):
        """A Stream; `extra` adds optional fields as they are, e.g. fullRefresh=True for a
        stream with no incremental mode (PROTOCOL.md, stream)."""
        stream = dict({"_type": "Stream", "id": stream_id, "self": self_url, "name": name}, **extra)
        self.message({"type": "stream", "stream": stream})

    def record(self, record, extracted_at=None):
        """Emits one record; ``extracted_at`` defaults to now."""
        self.records += 1
        self.message({"type": "record", "record": record, "extracted_at": format_instant(extracted_at or now())})

    def state(self, state):
        """Emits a checkpoint: it must cover every record emitted before it."""
        self.message({"type": "state", "state": state})

    def log(self, level, message):
        if level not in LOG_LEVELS:
            level = "info"
        self.message({"type": "log", "level": level, "message": self.redactor.redact(str(message))})

    def error(self, kind, message):
        self.message({"type": "error", "message": self.redactor.redact(message) or kind, "kind": kind})


# ---------------------------------------------------------------------------------------
# Configuration check
# ---------------------------------------------------------------------------------------

_JSON_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


def check_config(schema, config):
    """Problems with ``config`` against the top level of ``schema``: required keys,
    unknown keys when ``additionalProperties`` is false, and the JSON type of each known
    key. Not a full JSON Schema validator; connectors check nested values themselves.
    Messages never quote values (a mistyped secret is still a secret)."""
    if not isinstance(config, dict):
        return ["configuration: must be a JSON object"]
    properties = schema.get("properties") or {}
    problems = ["%s must be present" % key for key in schema.get("required", []) if key not in config]
    if schema.get("additionalProperties") is False:
        problems += ['unknown configuration key "%s"' % key for key in config if key not in properties]
    for key, value in config.items():
        expected = (properties.get(key) or {}).get("type")
        if expected and not _has_type(value, expected):
            problems.append("%s: must be %s" % (key, " or ".join(_as_list(expected))))
    return problems


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _has_type(value, expected):
    return any(_JSON_TYPES.get(name, lambda v: True)(value) for name in _as_list(expected))


# ---------------------------------------------------------------------------------------
# Input: the config and sync messages, or the debug flags
# ---------------------------------------------------------------------------------------


class SyncRequest:
    """What to sync: the Stream record, the earliest-data cutoff (aware UTC datetime) and
    the state of the last checkpoint (``None`` on a first sync)."""

    def __init__(self, stream, cutoff, state):
        self.stream = stream
        self.cutoff = cutoff
        self.state = state


def _read_json_file(path, what):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as error:
        fail("config", "cannot read %s %s: %s" % (what, path, error.strerror or error))
    except ValueError as error:
        fail("config", "%s %s is not valid JSON: %s" % (what, path, error))


def _next_stdin_message(expected):
    if sys.stdin.isatty():
        fail("config", "no configuration: pass --config FILE to run by hand (the runner sends it on stdin)")
    line = sys.stdin.readline()
    if not line.strip():
        fail("config", "stdin closed before a %s message arrived (run by hand with --config FILE)" % expected)
    try:
        message = json.loads(line)
    except ValueError as error:
        fail("config", "stdin: not a runner message: %s" % error)
    if not isinstance(message, dict) or message.get("type") != expected:
        fail("config", "stdin: expected a %s message" % expected)
    return message


def read_config(args):
    """The configuration object: from ``--config FILE`` (a bare object or a saved
    ``config`` message), else from the ``config`` message on stdin."""
    if args.config:
        value = _read_json_file(args.config, "configuration file")
        if isinstance(value, dict) and value.get("type") == "config":
            return value.get("config")
        return value
    message = _next_stdin_message("config")
    if message.get("protocol") != PROTOCOL_VERSION:
        fail(
            "config",
            "the runner speaks protocol %s, this connector speaks protocol %d"
            % (json.dumps(message.get("protocol")), PROTOCOL_VERSION),
        )
    return message.get("config")


def _parse_cutoff(text, what):
    try:
        return parse_instant(text)
    except ValueError as error:
        fail("config", "%s: %s" % (what, error))


def read_sync_request(args, discovered_streams):
    """The sync request: the ``sync`` message on stdin, or built from ``--since``,
    ``--stream`` and ``--state`` in debug mode (``discovered_streams()`` lists the
    streams when ``--stream`` is an id or absent)."""
    if not args.config:
        message = _next_stdin_message("sync")
        stream = message.get("stream")
        if not isinstance(stream, dict) or "id" not in stream:
            fail("config", "sync message: stream must be a Stream record")
        cutoff = _parse_cutoff(message.get("earliest_data_cutoff"), "earliest_data_cutoff")
        return SyncRequest(stream, cutoff, message.get("state"))
    if not args.since:
        fail("config", "--since DATE is required with --config")
    cutoff = _parse_cutoff(args.since, "--since")
    state = _read_json_file(args.state, "state file") if args.state else None
    return SyncRequest(_pick_stream(args.stream, discovered_streams), cutoff, state)


def _pick_stream(selector, discovered_streams):
    if selector and selector.lstrip().startswith("{"):
        try:
            return json.loads(selector)
        except ValueError as error:
            fail("config", "--stream is not a Stream record: %s" % error)
    streams = discovered_streams()
    if not selector:
        if len(streams) != 1:
            fail("config", "--stream ID is required: this connector has %d streams" % len(streams))
        return streams[0]
    for stream in streams:
        if stream["id"] == selector:
            return stream
    known = ", ".join(s["id"] for s in streams)
    fail("config", 'no stream with id "%s" (discovered: %s)' % (selector, known))


# ---------------------------------------------------------------------------------------
# Command line and dispatch
# ---------------------------------------------------------------------------------------


def _parser(name):
    parser = argparse.ArgumentParser(
        prog=name,
        description="A connector speaking protocol v1 of the connector toolkit. The runner sends the "
        "configuration on stdin; to run it by hand, pass --config FILE instead.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    commands.add_parser("spec", help="print the spec: name, version, configuration schema, record types")
    for command, help_text in (("verify", "check a configuration"), ("discover", "list the streams")):
        sub = commands.add_parser(command, help=help_text)
        sub.add_argument("--config", metavar="FILE", help="configuration file (JSON) instead of stdin")
    sync = commands.add_parser("sync", help="emit the records of one stream back to a cutoff")
    sync.add_argument("--config", metavar="FILE", help="configuration file (JSON) instead of stdin")
    sync.add_argument("--since", metavar="DATE", help="earliest data: YYYY-MM-DD or RFC 3339 (with --config)")
    sync.add_argument("--stream", metavar="ID|JSON", help="stream id or Stream record (default: the only one)")
    sync.add_argument("--state", metavar="FILE", help="state to resume from (a previous checkpoint's state)")
    return parser


class _Capture:
    """Collects the streams ``discover`` emits, for ``--stream`` in debug mode."""

    def __init__(self):
        self.streams = []
        self.redactor = Redactor()

    def stream(self, stream_id, self_url, name, **extra):
        self.streams.append(dict({"_type": "Stream", "id": stream_id, "self": self_url, "name": name}, **extra))

    def log(self, level, message):
        pass


def run(spec, verify, discover, sync, argv=None):
    """Parses the command line, runs the command and exits: 0 on success, 1 after an
    ``error`` message, 2 for a bad command line (argparse prints why on stderr)."""
    args = _parser(spec["name"]).parse_args(argv)
    out = Emitter()
    try:
        _dispatch(args, spec, out, verify, discover, sync)
    except ConnectorFailure as failure:
        _report(out, failure.kind, failure.message)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): nothing left to say to anyone.
        sys.exit(EXIT_OK)
    except Exception as error:  # noqa: BLE001 - last resort: a bug becomes an error message, not a traceback
        _report(out, "internal", "%s: %s" % (type(error).__name__, error))
    sys.exit(EXIT_OK)


def _report(out, kind, message):
    text = out.redactor.redact(message)
    out.error(kind, text)
    sys.stderr.write("error: %s\n" % text)
    sys.exit(EXIT_FAILURE)


def _dispatch(args, spec, out, verify, discover, sync):
    if args.command == "spec":
        return out.spec(spec)
    config = read_config(args)
    out.redactor = Redactor(secret_values(spec.get("config_schema", {}), config))
    problems = check_config(spec.get("config_schema", {}), config)
    if args.command == "verify":
        return out.verification(problems or verify(config, out))
    if problems:
        fail("config", "invalid configuration: %s" % "; ".join(problems))
    if args.command == "discover":
        return discover(config, out)
    request = read_sync_request(args, lambda: _discovered(discover, config))
    return sync(config, request, out)


def _discovered(discover, config):
    capture = _Capture()
    discover(config, capture)
    return capture.streams
