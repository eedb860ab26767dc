"""Unit tests of connector_protocol.py: dates, secrets, the config check, and the
command-line behaviour every Python connector inherits (driven through a tiny connector
run as a real subprocess)."""

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import connector_protocol as protocol  # noqa: E402

SECRET = "s3cr3t-t0ken-value"

# A connector that leaks its token everywhere it can, to prove the helper masks it.
LEAKY = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, %r)
    import connector_protocol as p
    SPEC = {"name": "leaky", "version": "0.0.1", "record_types": ["Incident"], "config_schema": {
        "type": "object", "required": ["apiToken"], "additionalProperties": False,
        "properties": {"apiToken": {"type": "string", "writeOnly": True}, "n": {"type": "integer"}}}}
    def verify(config, out):
        out.log("info", "checking " + config["apiToken"])
        return ["token " + config["apiToken"] + " refused"] if config.get("n") == 0 else []
    def discover(config, out):
        out.stream("s1", "https://example.com/s1", "S1")
    def sync(config, request, out):
        out.log("info", "cutoff %%s state %%r stream %%s" %% (p.format_instant(request.cutoff), request.state,
                request.stream["id"]))
        if config.get("n") == 1:
            raise RuntimeError("boom with " + config["apiToken"])
        p.fail("auth", "token " + config["apiToken"] + " was refused")
    p.run(SPEC, verify=verify, discover=discover, sync=sync)
    """
    % ROOT
)


def run_leaky(args, stdin=""):
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(LEAKY)
    try:
        return subprocess.run(
            [sys.executable, script.name] + args, input=stdin, capture_output=True, text=True, timeout=60
        )
    finally:
        os.unlink(script.name)


def messages(stdout):
    """The protocol messages on stdout; fails on any line that is not one (a JSON object
    with a string type), as the runner would."""
    found = [json.loads(line) for line in stdout.splitlines()]
    for message in found:
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise AssertionError("not a protocol message on stdout: %r" % (message,))
    return found


def config_line(config, protocol_version=1):
    return json.dumps({"type": "config", "protocol": protocol_version, "config": config}) + "\n"


class Dates(unittest.TestCase):
    def test_dates_are_midnight_utc_and_offsets_are_normalised(self):
        self.assertEqual(protocol.format_instant(protocol.parse_instant("2026-01-31")), "2026-01-31T00:00:00Z")
        self.assertEqual(
            protocol.format_instant(protocol.parse_instant("2026-01-31T02:30:00+02:00")), "2026-01-31T00:30:00Z"
        )
        self.assertEqual(
            protocol.format_instant(protocol.parse_instant("2026-01-31 00:00:00.250")), "2026-01-31T00:00:00.25Z"
        )

    def test_garbage_names_the_input_and_both_forms(self):
        for bad in ["yesterday", "2026-1-1", "", None]:
            with self.assertRaises(ValueError) as caught:
                protocol.parse_instant(bad)
            self.assertIn("invalid date %s:" % json.dumps(bad), str(caught.exception))
            self.assertIn("expected YYYY-MM-DD (e.g. 2026-01-31) or RFC 3339", str(caught.exception))
        with self.assertRaises(ValueError) as caught:
            protocol.parse_instant("2026-02-30")
        self.assertEqual(str(caught.exception), 'invalid date "2026-02-30": no such day or time')

    def test_now_is_aware_utc(self):
        self.assertEqual(protocol.now().utcoffset(), dt.timedelta(0))


class Secrets(unittest.TestCase):
    SCHEMA = {
        "properties": {
            "apiToken": {"type": "string", "writeOnly": True},
            "oauth": {"type": "object", "properties": {"secret": {"writeOnly": True}}},
            "keys": {"type": "array", "items": {"writeOnly": True}},
            "name": {"type": "string"},
        }
    }

    def test_write_only_values_are_found_at_any_depth(self):
        config = {"apiToken": "tok-1", "oauth": {"secret": "sec-2"}, "keys": ["key-3"], "name": "visible"}
        self.assertEqual(sorted(protocol.secret_values(self.SCHEMA, config)), ["key-3", "sec-2", "tok-1"])

    def test_redaction_masks_longest_first_and_ignores_tiny_values(self):
        redactor = protocol.Redactor(["abcd", "abcdef", "ab"])
        self.assertEqual(redactor.redact("x abcdef y abcd z ab"), "x *** y *** z ab")


class DeclaredTypes(unittest.TestCase):
    def test_record_schema_requires_type_id_and_self_and_keeps_the_fields_given(self):
        schema = protocol.record_schema("AcmeWidget", {"sprockets": {"type": "integer"}}, required=["sprockets", "id"])
        self.assertEqual(schema["required"], ["_type", "id", "self", "sprockets"])
        self.assertEqual(schema["properties"]["_type"], {"const": "AcmeWidget"})
        self.assertEqual(schema["properties"]["sprockets"], {"type": "integer"})
        self.assertNotIn("description", schema)


class ConfigCheck(unittest.TestCase):
    SCHEMA = {
        "required": ["path"],
        "additionalProperties": False,
        "properties": {"path": {"type": "string"}, "count": {"type": ["integer", "null"]}},
    }

    def test_problems_are_named_without_values(self):
        problems = protocol.check_config(self.SCHEMA, {"count": True, "colour": "blue"})
        self.assertEqual(
            problems, ["path must be present", 'unknown configuration key "colour"', "count: must be integer or null"]
        )

    def test_a_valid_config_has_no_problems(self):
        self.assertEqual(protocol.check_config(self.SCHEMA, {"path": "x", "count": None}), [])
        self.assertEqual(protocol.check_config(self.SCHEMA, []), ["configuration: must be a JSON object"])


class CommandLine(unittest.TestCase):
    def test_unknown_command_is_a_usage_error(self):
        result = run_leaky(["frobnicate"])
        self.assertEqual(result.returncode, 2)
        self.assertIn("invalid choice", result.stderr)
        self.assertEqual(result.stdout, "")

    def test_closed_stdin_gives_a_config_error_instead_of_hanging(self):
        result = run_leaky(["discover"], stdin="")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(messages(result.stdout)[-1]["kind"], "config")
        self.assertIn("stdin closed before a config message", result.stdout)

    def test_another_protocol_version_is_refused(self):
        result = run_leaky(["discover"], stdin=config_line({"apiToken": SECRET}, protocol_version=2))
        self.assertEqual(result.returncode, 1)
        self.assertIn("runner speaks protocol 2", messages(result.stdout)[-1]["message"])

    def test_invalid_config_is_an_answer_from_verify(self):
        result = run_leaky(["verify"], stdin=config_line({}))
        self.assertEqual(result.returncode, 0)
        self.assertEqual(messages(result.stdout), [
            {"type": "verification", "valid": False, "errors": ["apiToken must be present"]}
        ])

    def test_secrets_are_masked_in_logs_verification_errors_and_stderr(self):
        result = run_leaky(["verify"], stdin=config_line({"apiToken": SECRET, "n": 0}))
        self.assertEqual(result.returncode, 0)
        self.assertNotIn(SECRET, result.stdout + result.stderr)
        self.assertEqual(messages(result.stdout), [
            {"type": "log", "level": "info", "message": "checking ***"},
            {"type": "verification", "valid": False, "errors": ["token *** refused"]},
        ])
        sync_in = config_line({"apiToken": SECRET}) + json.dumps(
            {"type": "sync", "stream": {"_type": "Stream", "id": "s1", "self": "https://e.com", "name": "S"},
             "earliest_data_cutoff": "2026-01-01T00:00:00Z", "state": None}) + "\n"
        result = run_leaky(["sync"], stdin=sync_in)
        self.assertEqual(result.returncode, 1)
        self.assertNotIn(SECRET, result.stdout + result.stderr)
        self.assertEqual(messages(result.stdout)[-1], {"type": "error", "message": "token *** was refused",
                                                       "kind": "auth"})
        self.assertEqual(result.stderr, "error: token *** was refused\n")

    def test_an_exception_becomes_an_internal_error_without_the_secret(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as config:
            json.dump({"apiToken": SECRET, "n": 1}, config)
        try:
            result = run_leaky(["sync", "--config", config.name, "--since", "2026-01-01"])
        finally:
            os.unlink(config.name)
        self.assertEqual(result.returncode, 1)
        lines = messages(result.stdout)
        self.assertEqual(lines[0]["message"], "cutoff 2026-01-01T00:00:00Z state None stream s1")
        self.assertEqual(lines[-1], {"type": "error", "message": "RuntimeError: boom with ***", "kind": "internal"})
        self.assertNotIn(SECRET, result.stdout + result.stderr)
        self.assertEqual(result.stderr, "error: RuntimeError: boom with ***\n")  # no traceback either

    def test_since_is_required_with_config_and_must_be_a_date(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as config:
            json.dump({"apiToken": SECRET}, config)
        try:
            missing = run_leaky(["sync", "--config", config.name])
            bad = run_leaky(["sync", "--config", config.name, "--since", "last week"])
            unknown = run_leaky(["sync", "--config", config.name, "--since", "2026-01-01", "--stream", "nope"])
        finally:
            os.unlink(config.name)
        self.assertIn("--since DATE is required", messages(missing.stdout)[-1]["message"])
        self.assertIn('--since: invalid date "last week"', messages(bad.stdout)[-1]["message"])
        self.assertIn('no stream with id "nope" (discovered: s1)', messages(unknown.stdout)[-1]["message"])
        self.assertEqual({missing.returncode, bad.returncode, unknown.returncode}, {1})


if __name__ == "__main__":
    unittest.main()
