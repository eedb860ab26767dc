"""connector-{{slug}} run as a subprocess, the way the runner runs it: messages on stdin,
protocol lines on stdout. Run with `python3 -m unittest -v` from the project directory."""

import json
import os
import subprocess
import unittest

CONNECTOR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "connector-{{slug}}")
TOKEN = "t0k3n-for-tests"
STREAM = {"_type": "Stream", "id": "example-account", "self": "https://api.example.com", "name": "x"}


def run(command, stdin=""):
    """Runs `connector-{{slug}} COMMAND` with `stdin`: (exit code, messages, stderr)."""
    result = subprocess.run([CONNECTOR, command], input=stdin, capture_output=True, text=True, timeout=60)
    return result.returncode, [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def config_line(config):
    return json.dumps({"type": "config", "protocol": 1, "config": config}) + "\n"


def sync_stdin(state=None, cutoff="2026-01-01T00:00:00Z"):
    sync = {"type": "sync", "stream": STREAM, "earliest_data_cutoff": cutoff, "state": state}
    return config_line({"apiToken": TOKEN}) + json.dumps(sync) + "\n"


def of_type(messages, kind):
    return [m for m in messages if m["type"] == kind]


class Connector(unittest.TestCase):
    def test_spec_names_the_connector_and_marks_the_token_secret(self):
        code, found, _ = run("spec")
        self.assertEqual((code, len(found), found[0]["name"]), (0, 1, "{{slug}}"))
        self.assertIs(found[0]["config_schema"]["properties"]["apiToken"]["writeOnly"], True)

    def test_verify_answers_for_good_and_bad_configurations_and_exits_0(self):
        cases = [
            ({"apiToken": TOKEN}, {"type": "verification", "valid": True}),
            ({}, {"type": "verification", "valid": False, "errors": ["apiToken must be present"]}),
            ({"apiToken": TOKEN, "apiBaseUrl": 12345}, {"type": "verification", "valid": False, "errors": ["apiBaseUrl: must be string"]}),
        ]
        for config, answer in cases:
            self.assertEqual(run("verify", config_line(config))[:2], (0, [answer]), config)
        code, found, _ = run("verify", config_line({"apiToken": "t0k3n with a space"}))
        self.assertEqual((code, found[0]["valid"]), (0, False))
        self.assertNotIn("with a space", json.dumps(found))

    def test_discover_emits_the_account_stream(self):
        code, found, _ = run("discover", config_line({"apiToken": TOKEN}))
        self.assertEqual((code, of_type(found, "stream")[0]["stream"]["id"]), (0, "example-account"))

    def test_sync_emits_pages_with_checkpoints_then_resumes_from_the_last_one(self):
        code, found, stderr = run("sync", sync_stdin())
        self.assertEqual(code, 0, stderr)
        ids = [m["record"]["id"] for m in of_type(found, "record")]
        self.assertEqual(ids, ["EX-5", "EX-4", "EX-3", "EX-2", "EX-1"])
        states = [m["state"] for m in of_type(found, "state")]
        self.assertEqual(len(states), 3, "one checkpoint per page")
        self.assertEqual(states[-1], {"version": 1, "syncedThrough": "2026-03-14T09:26:53Z", "unfinished": None})
        code, again, _ = run("sync", sync_stdin(states[-1]))
        self.assertEqual((code, of_type(again, "record")), (0, []), "nothing new since the last checkpoint")
        code, resumed, _ = run("sync", sync_stdin(states[0]))
        self.assertEqual([m["record"]["id"] for m in of_type(resumed, "record")], ["EX-3", "EX-2", "EX-1"])

    def test_nothing_older_than_the_cutoff_is_emitted(self):
        _, found, _ = run("sync", sync_stdin(cutoff="2026-02-15T00:00:00Z"))
        self.assertEqual([m["record"]["id"] for m in of_type(found, "record")], ["EX-5", "EX-4", "EX-3"])

    def test_the_token_never_appears_in_any_output(self):
        for command in ("verify", "discover", "sync"):
            _, found, stderr = run(command, sync_stdin())
            self.assertNotIn(TOKEN, json.dumps(found) + stderr, command)

    def test_closed_stdin_is_a_config_error_not_a_hang(self):
        code, found, _ = run("sync")
        self.assertEqual((code, of_type(found, "error")[0]["kind"]), (1, "config"))

    def test_an_unknown_command_is_a_usage_error(self):
        code, found, stderr = run("frobnicate")
        self.assertEqual((code, found), (2, []))
        self.assertTrue(stderr)


if __name__ == "__main__":
    unittest.main()
