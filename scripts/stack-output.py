#!/usr/bin/env python3
"""Print one output of the single stack in a `cdk deploy --outputs-file` document: stack-output.py FILE NAME."""

import json
import sys


def main(path: str, name: str) -> int:
    try:
        with open(path, encoding="utf-8") as handle:
            stacks = json.load(handle)
    except (OSError, ValueError) as exc:
        print(f"stack-output: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    values = [outputs[name] for outputs in stacks.values() if name in outputs]
    if len(values) != 1:
        print(f"stack-output: {path} has {len(values)} stacks with output {name}; expected 1", file=sys.stderr)
        return 2
    print(values[0])
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
