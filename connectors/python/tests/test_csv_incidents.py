"""csv-incidents run as a subprocess, the way the runner runs it: messages on stdin,
protocol lines on stdout. Each test works on its own CSV file in a temporary directory."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CONNECTOR = os.path.join(os.path.dirname(HERE), "csv-incidents")
EXAMPLES = os.path.join(os.path.dirname(HERE), "examples")
STATUSES = {"triggered", "acknowledged", "resolved"}
HEADER = "id,title,status,createdAt\n"


def run(command, config=None, sync=None, args=(), stdin=None, cwd=None):
    """Runs the connector; stdin gets the config message (and the sync message) unless
    ``stdin`` is given. Returns (exit code, messages, stderr)."""
    if stdin is None:
        stdin = "" if config is None else json.dumps({"type": "config", "protocol": 1, "config": config}) + "\n"
        if sync is not None:
            stdin += json.dumps(dict({"type": "sync"}, **sync)) + "\n"
    result = subprocess.run(
        [CONNECTOR, command] + list(args), input=stdin, capture_output=True, text=True, timeout=60, cwd=cwd
    )
    found = [json.loads(line) for line in result.stdout.splitlines()]
    for message in found:  # stdout holds protocol messages only, as the runner requires
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise AssertionError("not a protocol message on stdout: %r" % (message,))
    return result.returncode, found, result.stderr


def of_type(found, kind):
    return [m for m in found if m["type"] == kind]


def assert_incident(test, record):
    """The rules of schemas/records/Incident.json that this connector can get wrong."""
    for field in ("_type", "id", "self", "title", "status", "createdAt"):
        test.assertIn(field, record)
    test.assertEqual(record["_type"], "Incident")
    test.assertIn(record["status"], STATUSES)
    test.assertRegex(record["createdAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
    test.assertRegex(record["self"], r"^[a-z][a-z0-9+.-]*:")


class CsvIncidents(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.csv = os.path.join(self.dir, "export.csv")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def write_csv(self, text, mode="w"):
        with open(self.csv, mode, encoding="utf-8") as handle:
            handle.write(text)

    def sync(self, config, state=None, cutoff="2026-01-01T00:00:00Z"):
        _, found, _ = run("discover", config)
        stream = of_type(found, "stream")[0]["stream"]
        return run("sync", config, {"stream": stream, "earliest_data_cutoff": cutoff, "state": state})

    def test_spec_declares_incidents_and_its_config_schema(self):
        code, found, _ = run("spec")
        self.assertEqual(code, 0)
        self.assertEqual(len(found), 1)
        spec = found[0]
        self.assertEqual((spec["type"], spec["protocol"], spec["name"]), ("spec", 1, "csv-incidents"))
        self.assertEqual(spec["record_types"], ["Incident"])
        self.assertEqual(spec["config_schema"]["required"], ["path"])

    def test_verify_accepts_the_example_and_explains_what_is_wrong(self):
        # The example's path is relative to connectors/python, where the README runs it.
        example = ["--config", os.path.join(EXAMPLES, "config.json")]
        code, found, _ = run("verify", args=example, stdin="", cwd=os.path.dirname(EXAMPLES))
        self.assertEqual((code, found), (0, [{"type": "verification", "valid": True}]))
        cases = {
            "path must be present": {},
            'unknown configuration key "colour"': {"path": self.csv, "colour": 1},
            "path: cannot read": {"path": os.path.join(self.dir, "missing.csv")},
            'column "Opened" (for createdAt) is not in the header': {"path": self.csv, "columns": {"createdAt":
                                                                                                 "Opened"}},
            "statusMap.Open: must be one of": {"path": self.csv, "statusMap": {"Open": "open"}},
        }
        self.write_csv(HEADER)
        for expected, config in cases.items():
            code, found, _ = run("verify", config)
            self.assertEqual(code, 0, expected)
            self.assertEqual(len(found), 1, expected)
            self.assertFalse(found[0]["valid"], expected)
            self.assertTrue(any(expected in e for e in found[0]["errors"]), (expected, found))

    def test_discover_emits_one_stream_for_the_file(self):
        self.write_csv(HEADER)
        code, found, _ = run("discover", {"path": self.csv})
        self.assertEqual(code, 0)
        self.assertEqual(found, [{"type": "stream", "stream": {
            "_type": "Stream", "id": "export.csv", "self": "file://" + os.path.realpath(self.csv),
            "name": "Incidents from export.csv", "description": "CSV export at " + os.path.realpath(self.csv)}}])

    def test_sync_maps_columns_newest_first_back_to_the_cutoff(self):
        with open(os.path.join(EXAMPLES, "config.json"), encoding="utf-8") as handle:
            config = json.load(handle)
        shutil.copy(os.path.join(EXAMPLES, "incidents.csv"), self.csv)
        config["path"] = self.csv
        code, found, _ = self.sync(config, cutoff="2026-01-10T00:00:00Z")
        self.assertEqual(code, 0)
        records = [m["record"] for m in of_type(found, "record")]
        self.assertEqual([r["id"] for r in records], ["INC-1004", "INC-1005", "INC-1003", "INC-1002"])
        for record in records:
            assert_incident(self, record)
        by_id = {r["id"]: r for r in records}
        self.assertEqual(by_id["INC-1003"]["createdAt"], "2026-02-01T07:00:00Z")  # +01:00 normalised
        self.assertEqual(by_id["INC-1003"]["status"], "acknowledged")  # via statusMap
        self.assertEqual(by_id["INC-1002"]["resolvedAt"], "2026-01-12T15:45:00Z")  # no offset: UTC
        self.assertEqual(by_id["INC-1004"]["title"], 'Login page shows "500" for SSO users')
        self.assertEqual((by_id["INC-1004"]["number"], by_id["INC-1004"]["urgency"]), (1004, "high"))
        self.assertEqual(by_id["INC-1004"]["htmlUrl"], "https://status.example.com/incidents/INC-1004")
        self.assertNotIn("htmlUrl", by_id["INC-1005"])
        self.assertEqual(by_id["INC-1004"]["service"], {"id": "Identity", "type": "service_reference",
                                                        "summary": "Identity"})
        # Then one checkpoint, after every record (only logs may follow it).
        self.assertEqual([m["type"] for m in found if m["type"] != "log"], ["record"] * 4 + ["state"])
        self.assertEqual(of_type(found, "state"), [{"type": "state", "state": {
            "lastCreatedAt": "2026-02-03T16:45:10Z", "idsAtLastCreatedAt": ["INC-1004", "INC-1005"]}}])

    def test_rerun_with_state_emits_only_new_rows_including_ties(self):
        self.write_csv(HEADER + "A,first,triggered,2026-02-01T10:00:00Z\nB,second,triggered,2026-02-02T10:00:00Z\n")
        config = {"path": self.csv}
        _, found, _ = self.sync(config)
        self.assertEqual([m["record"]["id"] for m in of_type(found, "record")], ["B", "A"])
        state = of_type(found, "state")[-1]["state"]
        # C shares B's instant (the tie rule), D is newer, E is older than the mark.
        self.write_csv("C,tie,resolved,2026-02-02T10:00:00Z\nD,newer,acknowledged,2026-02-03T10:00:00Z\n"
                       "E,late arrival,triggered,2026-01-15T00:00:00Z\n", mode="a")
        code, found, _ = self.sync(config, state)
        self.assertEqual(code, 0)
        self.assertEqual([m["record"]["id"] for m in of_type(found, "record")], ["D", "C"])
        state = of_type(found, "state")[-1]["state"]
        self.assertEqual(state, {"lastCreatedAt": "2026-02-03T10:00:00Z", "idsAtLastCreatedAt": ["D"]})
        code, found, _ = self.sync(config, state)
        self.assertEqual((code, of_type(found, "record")), (0, []))
        self.assertEqual(of_type(found, "state")[-1]["state"], state)

    def test_state_file_works_in_debug_mode(self):
        self.write_csv(HEADER + "A,first,triggered,2026-02-01T10:00:00Z\nB,second,triggered,2026-02-02T10:00:00Z\n")
        config_file, state_file = os.path.join(self.dir, "c.json"), os.path.join(self.dir, "s.json")
        with open(config_file, "w", encoding="utf-8") as handle:
            json.dump({"path": self.csv}, handle)
        with open(state_file, "w", encoding="utf-8") as handle:
            json.dump({"lastCreatedAt": "2026-02-01T10:00:00Z", "idsAtLastCreatedAt": ["A"]}, handle)
        args = ["--config", config_file, "--since", "2026-01-01", "--stream", "export.csv", "--state", state_file]
        code, found, _ = run("sync", args=args, stdin="")
        self.assertEqual(code, 0)
        self.assertEqual([m["record"]["id"] for m in of_type(found, "record")], ["B"])

    def test_bad_rows_are_skipped_with_a_warning_naming_the_line(self):
        self.write_csv(HEADER + "A,fine,triggered,2026-02-01T10:00:00Z\n"
                       "B,bad date,triggered,yesterday\n"
                       "C,bad status,on fire,2026-02-01T11:00:00Z\n"
                       ",no id,resolved,2026-02-01T12:00:00Z\n")
        code, found, _ = self.sync({"path": self.csv})
        self.assertEqual(code, 0)
        self.assertEqual([m["record"]["id"] for m in of_type(found, "record")], ["A"])
        warnings = [m["message"] for m in of_type(found, "log") if m["level"] == "warn"]
        self.assertIn('export.csv line 3 skipped: createdAt (column createdAt): invalid date "yesterday"', warnings[0])
        self.assertIn('export.csv line 4 skipped: status "on fire"', warnings[1])
        self.assertIn("export.csv line 5 skipped: id (column id) is empty", warnings[2])
        self.assertEqual(warnings[3], "3 bad row(s) skipped")

    def test_unreadable_file_and_bad_state_fail_the_sync_with_kind_config(self):
        self.write_csv(HEADER)
        _, found, _ = run("discover", {"path": self.csv})
        stream = found[0]["stream"]
        sync = {"stream": stream, "earliest_data_cutoff": "2026-01-01T00:00:00Z", "state": {"lastCreatedAt": "x"}}
        code, found, stderr = run("sync", {"path": self.csv}, sync)
        self.assertEqual(code, 1)
        self.assertEqual(found[-1]["kind"], "config")
        self.assertIn('state.lastCreatedAt: invalid date "x"', found[-1]["message"])
        self.assertIn("state.lastCreatedAt", stderr)
        os.unlink(self.csv)
        code, found, _ = run("sync", {"path": self.csv}, dict(sync, state=None))
        self.assertEqual((code, found[-1]["kind"]), (1, "config"))
        self.assertIn("path: cannot read", found[-1]["message"])

    def test_sync_without_the_sync_message_is_a_config_error(self):
        self.write_csv(HEADER)
        code, found, _ = run("sync", {"path": self.csv})
        self.assertEqual((code, found[-1]["type"], found[-1]["kind"]), (1, "error", "config"))
        self.assertIn("before a sync message", found[-1]["message"])


if __name__ == "__main__":
    unittest.main()
