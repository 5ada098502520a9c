#!/usr/bin/env python3
"""Cross-checks graphetl's interpreter against the npm package aws-local-stepfunctions.

    python3 crates/states/crosscheck/compare.py --graphetl target/debug/graphetl --alsf-dir DIR

DIR holds node_modules/aws-local-stepfunctions (npm install --prefix DIR aws-local-stepfunctions@3.0.0).
Every case in cases.json runs through both; outputs are compared as parsed JSON, failures by error
name. Prints "N passed, M failed" and exits 1 on any difference.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--graphetl", required=True)
    parser.add_argument("--alsf-dir", required=True)
    args = parser.parse_args()
    cases = json.loads((HERE / "cases.json").read_text())
    env = dict(os.environ, ALSF_DIR=str(Path(args.alsf_dir).resolve()))
    node = subprocess.run(["node", str(HERE / "alsf.mjs"), str(HERE / "cases.json")],
                          capture_output=True, text=True, env=env, check=False)
    if node.returncode != 0:
        print(node.stderr, file=sys.stderr)
        return 1
    theirs = {r["name"]: r for r in map(json.loads, node.stdout.splitlines())}
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            definition = Path(tmp) / f"{case['name']}.asl.json"
            definition.write_text(json.dumps(case["definition"]))
            ours = subprocess.run([args.graphetl, "states", "run", "--virtual-time", "--definition", str(definition),
                                   "--input", json.dumps(case["input"])], capture_output=True, text=True, check=False)
            if ours.returncode not in (0, 1):
                print(f"FAIL {case['name']}: graphetl crashed: {ours.stderr.strip()}")
                failed += 1
                continue
            mine = json.loads(ours.stdout.strip().splitlines()[-1])
            other = theirs.get(case["name"], {})
            if ours.returncode == 0:
                same = "output" in other and other["output"] == mine
                detail = f"graphetl {json.dumps(mine, sort_keys=True)} vs aws-local-stepfunctions {json.dumps(other.get('output'), sort_keys=True)}"
            else:
                # aws-local-stepfunctions wraps a Fail state's error as ExecutionError {cause: {name}}.
                their_error = other.get("error")
                if their_error == "ExecutionError" and isinstance(other.get("cause"), dict):
                    their_error = other["cause"].get("name")
                same = their_error == mine.get("error")
                detail = f"graphetl {mine} vs aws-local-stepfunctions {other}"
            if case.get("known_difference"):
                if same:
                    failed += 1
                    print(f"FAIL {case['name']}: expected the documented difference, got the same result")
                else:
                    passed += 1
                    print(f"ok   {case['name']} (known difference: {case['known_difference']})")
                continue
            if same:
                passed += 1
                print(f"ok   {case['name']}")
            else:
                failed += 1
                print(f"FAIL {case['name']}: {detail}")
    print(f"crosscheck: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
