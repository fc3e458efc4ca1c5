#!/usr/bin/env python3
"""check_json.py - validates seedmesh --json outputs against the schemas in
docs/schemas/ (JSON Schema 2020-12).

usage: check_json.py SCHEMA_DIR SCHEMA_NAME FILE...
Each FILE holds one JSON document. Exit 0 when every file is valid, 1 with
the first error of each invalid file, 77 when python3-jsonschema is missing
(the test is then skipped)."""
import json
import os
import sys
import warnings

try:
    import jsonschema
except ImportError:
    print("check_json: python3-jsonschema is not installed", file=sys.stderr)
    sys.exit(77)

warnings.simplefilter("ignore", DeprecationWarning)


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    schema_dir = os.path.abspath(sys.argv[1])
    with open(os.path.join(schema_dir, sys.argv[2] + ".json")) as f:
        schema = json.load(f)
    cls = jsonschema.Draft202012Validator
    cls.check_schema(schema)
    resolver = jsonschema.RefResolver(base_uri="file://" + schema_dir + "/", referrer=schema)
    validator = cls(schema, resolver=resolver)
    bad = 0
    for path in sys.argv[3:]:
        with open(path) as f:
            try:
                doc = json.load(f)
            except ValueError as e:
                print("%s: not JSON: %s" % (path, e))
                bad += 1
                continue
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        if errors:
            e = errors[0]
            where = "/".join(str(p) for p in e.absolute_path) or "(top)"
            print("%s: %s at %s (%d errors)" % (path, e.message, where, len(errors)))
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
