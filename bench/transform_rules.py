"""The conversion rules of bench/service-calls-csv.toml that every transform peer shares
(pandas_transform.py, duckdb_transform.py, polars_transform.py): the columns in spec order, the
null tokens, the boolean tokens and the quarantine reasons. Plain data, no imports, so a peer's
start-up and memory are its engine's alone."""

NULL_TOKENS = ["", "NULL", "null", "NA", "N/A", "-"]
TRUE_TOKENS = ["y", "yes", "1", "true"]
FALSE_TOKENS = ["n", "no", "0", "false"]

# (output name, input field, type, required) in spec order
COLUMNS = [
    ("ts", "timestamp", "timestamp", True),
    ("caller", "caller", "string", True),
    ("callee", "callee", "string", True),
    ("protocol", "protocol", "string", False),
    ("endpoint", "endpoint", "string", False),
    ("status", "status", "int", False),
    ("latency_ms", "latency_ms", "float", True),
    ("bytes", "bytes", "int", False),
    ("ok", "success", "bool", False),
    ("cost", "cost", "decimal", False),
    ("tags", "tags", "list", False),
]

# The quarantine's reason for each kind of failure, as graphetl and pandas_transform.py word it.
REASONS = {
    "required": "required value is missing",
    "timestamp": "not a timestamp in any of: iso8601, %Y-%m-%d %H:%M:%S%.f, epoch_millis",
    "int": "not an integer",
    "float": "not a number",
    "bool": "not a boolean (y/n, 1/0, true/false, yes/no)",
    "dec_syntax": "not a decimal number",
    "dec_finite": "not a finite decimal number",
    "dec_scale": "more than 4 decimal places for decimal(14,4)",
    "dec_range": "out of range for decimal(14,4)",
}
