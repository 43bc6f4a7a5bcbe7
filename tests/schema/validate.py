"""Validates job files against a JSON Schema with the jsonschema package (draft 2020-12).

usage: validate.py SCHEMA FILE...   (a FILE may hold // comment lines, as `datasync template`
prints them). Prints one line per file: `ok FILE` or `invalid FILE: <its first errors>`; exits 0.
"""
import json
import sys

import jsonschema


def load(path):
    with open(path, encoding="utf-8") as f:
        lines = [l for l in f if not l.lstrip().startswith("//")]
    return json.loads("".join(lines))


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in sys.argv[2:]:
        errors = sorted(validator.iter_errors(load(path)), key=lambda e: list(e.absolute_path))
        if errors:
            said = []
            for e in errors[:5]:
                where = "/".join(str(p) for p in e.absolute_path)
                said.append(f"at /{where}: {e.message[:300]}")
            print(f"invalid {path}: " + " | ".join(said).replace("\n", " "))
        else:
            print(f"ok {path}")


main()
