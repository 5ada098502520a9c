#!/usr/bin/env python3
"""Lambda artifacts: the zipped size of each function and its init time through the Runtime API.

    cargo lambda build --release --arm64 --lambda-dir target/lambda-arm64   # what sam build ships
    cargo lambda build --release --lambda-dir target/lambda-x86             # runnable here
    python3 bench/lambda_bench.py [--arm64-dir target/lambda-arm64] [--x86-dir target/lambda-x86]
                                  [--runs 30] [--python-baseline]

Size: each `<function>/bootstrap` zipped with deflate, as `sam build`/`sam deploy` upload it
(limit to meet: 10 MB per function).

Init time: how Lambda measures a cold start's Init phase for a `provided.al2023` function,
from process start to the first `GET /2018-06-01/runtime/invocation/next` on the Runtime API.
This script serves that API on 127.0.0.1 (the four functions are started exactly as Lambda
starts a bootstrap: `AWS_LAMBDA_RUNTIME_API` and the `AWS_LAMBDA_*` variables, plus the
settings the template gives each function) and times each start; the function is killed as
soon as it asks for its first event. The x86_64 build runs natively here; the arm64 bootstrap
cannot run on this machine without emulation.

With --python-baseline the same measurement is taken, in the same run, of the original Python
functions' shape: a minimal runtime loop in Python that imports the seed's layer (pandas, pyarrow) and boto3 before asking for an event; its size is the zipped
size of those installed packages. Ratios are printed.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FUNCTIONS = ["extract", "transform", "aggregate", "load"]

# The settings the template gives each function (infra/template.yaml), with loopback values:
# the functions read them at init, so a start without them would fail before the Runtime API.
SETTINGS = {
    "extract": {"GRAPHETL_SOURCE_ALLOWED_HOSTS": "api.example.com"},
    "transform": {},
    "aggregate": {
        "GRAPHETL_ATHENA_DATABASE": "graphetl",
        "GRAPHETL_ATHENA_WORKGROUP": "graphetl",
        "GRAPHETL_ATHENA_OUTPUT": "s3://bucket/athena-results/",
    },
    "load": {
        "GRAPHETL_NEPTUNE_ENDPOINT": "db.cluster-x.us-east-1.neptune.amazonaws.com",
        "GRAPHETL_NEPTUNE_PORT": "8182",
    },
}

PYTHON_BOOTSTRAP = r'''
import json, os, urllib.request
import boto3, pandas, pyarrow, pyarrow.parquet  # the seed's layer and the runtime's SDK
s3 = boto3.client("s3")
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
while True:
    with urllib.request.urlopen(f"{api}/2018-06-01/runtime/invocation/next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
'''


class RuntimeApi:
    """The Runtime API's /next endpoint: records when each started process first asks."""

    def __init__(self) -> None:
        self.asked: dict[str, float] = {}
        self.cond = threading.Condition()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                now = time.perf_counter()
                # /<run-id>/2018-06-01/runtime/invocation/next
                run = self.path.strip("/").split("/", 1)[0]
                with api.cond:
                    api.asked.setdefault(run, now)
                    api.cond.notify_all()
                # Hold the poll like Lambda does while there is no event; the process is killed.
                time.sleep(5)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, run: str, timeout: float) -> float | None:
        deadline = time.perf_counter() + timeout
        with self.cond:
            while run not in self.asked:
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.asked[run]


def init_time(api: RuntimeApi, argv: list[str], env: dict[str, str], run: str) -> float:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{api.port}/{run}",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
        "RUST_LOG": "warn",
        **env,
    }
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    asked = api.wait(run, timeout=60)
    process.kill()
    _, err = process.communicate()
    if asked is None:
        sys.exit(f"{argv[0]} never asked for an event:\n{err.decode(errors='replace')[-2000:]}")
    return asked - started


def zipped_size(paths: list[tuple[Path, str]]) -> int:
    with tempfile.NamedTemporaryFile(suffix=".zip") as out:
        with zipfile.ZipFile(out.name, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for path, name in paths:
                z.write(path, name)
        return os.path.getsize(out.name)


def python_layer_files() -> list[tuple[Path, str]]:
    import importlib.util

    files = []
    for package in ["pandas", "pyarrow", "numpy"]:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            sys.exit(f"--python-baseline needs {package} (pip install pandas pyarrow boto3)")
        root = Path(spec.origin).parent
        for path in root.rglob("*"):
            if path.is_file():
                files.append((path, str(path.relative_to(root.parent))))
    return files


def summary(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    return f"median {statistics.median(ms):6.1f} ms  p90 {p90:6.1f} ms  min {ms[0]:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arm64-dir", default=str(REPO / "target/lambda-arm64"))
    parser.add_argument("--x86-dir", default=str(REPO / "target/lambda-x86"))
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--python-baseline", action="store_true")
    args = parser.parse_args()

    print("== zipped size (deflate, as sam uploads it; limit 10 MB)")
    sizes = {}
    for function in FUNCTIONS:
        for arch, folder in (("arm64", args.arm64_dir), ("x86_64", args.x86_dir)):
            bootstrap = Path(folder) / function / "bootstrap"
            if not bootstrap.is_file():
                continue
            size = zipped_size([(bootstrap, "bootstrap")])
            sizes[(function, arch)] = size
            print(f"  {function:10} {arch:7} bootstrap {bootstrap.stat().st_size / 1e6:6.2f} MB  zip {size / 1e6:6.2f} MB")
    if not sizes:
        sys.exit(f"no bootstrap under {args.arm64_dir} or {args.x86_dir}: build them first (see --help)")

    api = RuntimeApi()
    print(f"== init time, process start to first GET /next ({args.runs} cold starts each, x86_64 build)")
    medians = {}
    for function in FUNCTIONS:
        bootstrap = Path(args.x86_dir) / function / "bootstrap"
        if not bootstrap.is_file():
            print(f"  {function:10} no x86_64 bootstrap under {args.x86_dir}: skipped")
            continue
        times = [init_time(api, [str(bootstrap)], SETTINGS[function], f"{function}-{i}") for i in range(args.runs)]
        medians[function] = statistics.median(times)
        print(f"  {function:10} {summary(times)}")

    if args.python_baseline:
        with tempfile.TemporaryDirectory() as folder:
            script = Path(folder) / "bootstrap.py"
            script.write_text(PYTHON_BOOTSTRAP)
            times = [init_time(api, [sys.executable, str(script)], {}, f"python-{i}") for i in range(args.runs)]
            size = zipped_size(python_layer_files())
        baseline = statistics.median(times)
        print(f"  {'python':10} {summary(times)}  (pandas + pyarrow + boto3 imported)")
        print(f"  python layer (pandas, pyarrow, numpy) zipped {size / 1e6:.1f} MB")
        for function, median in medians.items():
            print(f"  ratio {function:10} init {median / baseline:.3f}x the Python function's")
        for (function, arch), zipped in sizes.items():
            if arch == "arm64":
                print(f"  ratio {function:10} zip  {zipped / size:.3f}x the Python layer's")


if __name__ == "__main__":
    main()
