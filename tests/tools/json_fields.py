#!/usr/bin/env python3
"""Parses JSON on standard input with Python's json module (so invalid
JSON fails with exit 1) and prints the named fields of every object of the
top-level array, tab-separated, one object per line; strings as they
decode (UTF-8), numbers as Python prints them, null as "null".

usage: json_fields.py FIELD...
"""
import json
import sys


def show(value):
    return "null" if value is None else str(value)


def main():
    data = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    if not isinstance(data, list):
        sys.exit("not a JSON array")
    for item in data:
        sys.stdout.write("\t".join(show(item[f]) for f in sys.argv[1:]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
