-- One row per (caller, callee) pair in the run's partitions: the CALLS edges.
SELECT
  caller,
  callee,
  count(*) AS requests,
  sum(CASE WHEN ok = false OR status >= 500 THEN 1 ELSE 0 END) AS errors,
  CAST(sum(CASE WHEN ok = false OR status >= 500 THEN 1 ELSE 0 END) AS DOUBLE) / count(*) AS error_rate,
  approx_percentile(latency_ms, 0.5) AS p50_ms,
  approx_percentile(latency_ms, 0.95) AS p95_ms,
  approx_percentile(latency_ms, 0.99) AS p99_ms,
  sum(bytes) AS bytes,
  min(ts) AS first_seen,
  max(ts) AS last_seen
FROM {table}
WHERE dt BETWEEN '{dt_from}' AND '{dt_to}'
GROUP BY caller, callee
