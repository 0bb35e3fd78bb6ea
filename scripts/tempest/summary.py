#!/usr/bin/python3
"""Reads a tempest/stestr subunit v2 stream on stdin; prints skipped tests with their reasons, failed tests,
and the totals as `Passed: N`, `Skipped: N`, `Failed: N` (counted like tempest's own "Totals").
Exit status: 0 when nothing failed and at least one test passed, 1 otherwise."""
import sys

import subunit
import testtools

results = {}


def on_test(test):
    status = test["status"]
    if status in ("exists", "inprogress", None):
        return
    results[test["id"]] = test


stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name="stdout")
result = testtools.StreamToDict(on_test)
result.startTestRun()
try:
    stream.run(result)
finally:
    result.stopTestRun()


def reason(test):
    details = test.get("details") or {}
    if "reason" in details:
        return "".join(chunk.decode("utf-8", "replace") for chunk in details["reason"].iter_bytes()).strip()
    return "(no reason given)"


passed = sorted(t for t, r in results.items() if r["status"] in ("success", "xfail"))
skipped = sorted(t for t, r in results.items() if r["status"] == "skip")
failed = sorted(t for t, r in results.items() if r["status"] in ("fail", "uxsuccess"))

if skipped:
    print("Skipped tests (%d):" % len(skipped))
    for t in skipped:
        print("  %s\n      reason: %s" % (t, reason(results[t])))
if failed:
    print("Failed tests (%d):" % len(failed))
    for t in failed:
        print("  %s" % t)
print("Passed: %d" % len(passed))
print("Skipped: %d" % len(skipped))
print("Failed: %d" % len(failed))
sys.exit(0 if passed and not failed else 1)
