#!/usr/bin/env python3
"""The shipped JSON Schemas (profiles/schema/) are what `tierbox profile schema`
prints, are valid draft 2020-12 schemas, and every shipped file validates
against its schema; a file with a typo does not (the control).

Usage: check_schemas.py TIERBOX_BINARY SOURCE_DIR

python3-jsonschema (Debian) is part of the test dependencies
(tools/install-deps.sh): without it this test fails, it never skips.
"""
import copy
import glob
import json
import os
import subprocess
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("FAIL: python3-jsonschema is missing (fix: apt-get install python3-jsonschema, "
             "or run tools/install-deps.sh)")

KINDS = {
    "tier": ["profiles/tiers/*.json", "tests/profiles/*.json"],
    "approvals": ["profiles/approvals.json"],
    "data-classes": ["profiles/data-classes.json"],
}
# What each shipped file's "$schema" names, relative to the file.
SHIPPED_REFERENCE = {
    "profiles/tiers/*.json": "../schema/tier.schema.json",
    "profiles/approvals.json": "schema/approvals.schema.json",
    "profiles/data-classes.json": "schema/data-classes.schema.json",
}


def main():
    binary, source = sys.argv[1], sys.argv[2]
    failures = []
    checked = 0
    for kind, patterns in KINDS.items():
        printed = json.loads(subprocess.run([binary, "profile", "schema", kind], check=True,
                                            capture_output=True, text=True).stdout)
        shipped_path = os.path.join(source, "profiles/schema", kind + ".schema.json")
        with open(shipped_path) as f:
            shipped = json.load(f)
        if shipped != printed:
            failures.append(f"{shipped_path}: differs from `tierbox profile schema {kind}` "
                            f"(fix: tierbox profile schema {kind} > {shipped_path})")
        jsonschema.Draft202012Validator.check_schema(shipped)
        validator = jsonschema.Draft202012Validator(shipped)
        for pattern in patterns:
            files = sorted(glob.glob(os.path.join(source, pattern)))
            if not files:
                failures.append(f"no files match {pattern}")
            for path in files:
                with open(path) as f:
                    document = json.load(f)
                for error in validator.iter_errors(document):
                    failures.append(f"{path}: /{'/'.join(map(str, error.absolute_path))}: {error.message}")
                reference = SHIPPED_REFERENCE.get(pattern)
                if reference and document.get("$schema") != reference:
                    failures.append(f"{path}: \"$schema\" is {document.get('$schema')!r}, expected {reference!r}")
                checked += 1
                # The control: the same file with a misspelt key is refused.
                broken = copy.deepcopy(document)
                broken["no_such_key"] = True
                if validator.is_valid(broken):
                    failures.append(f"{path}: still valid with an unknown key: the schema checks nothing")
    # The control for a nested object: a typo inside limits is refused too.
    with open(os.path.join(source, "profiles/schema/tier.schema.json")) as f:
        tier = jsonschema.Draft202012Validator(json.load(f))
    if tier.is_valid({"extends": "base", "limits": {"wal_time": "1h"}}):
        failures.append("tier schema accepts limits.wal_time")
    if not tier.is_valid({"extends": "base", "limits": {"wall_time": "1h", "memory": {"value": "1G", "required": False}}}):
        failures.append("tier schema refuses a valid limits object")
    for failure in failures:
        print("FAIL:", failure)
    print(f"{checked} files checked against 3 schemas, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
