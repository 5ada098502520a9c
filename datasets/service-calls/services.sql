-- One row per service seen as caller or callee: the Service vertices.
WITH calls AS (
  SELECT caller, callee, ok, status
  FROM {table}
  WHERE dt BETWEEN '{dt_from}' AND '{dt_to}'
),
outgoing AS (
  SELECT caller AS name, count(*) AS requests_out FROM calls GROUP BY caller
),
incoming AS (
  SELECT callee AS name, count(*) AS requests_in,
         sum(CASE WHEN ok = false OR status >= 500 THEN 1 ELSE 0 END) AS errors_in
  FROM calls GROUP BY callee
)
SELECT
  coalesce(o.name, i.name) AS name,
  coalesce(i.requests_in, 0) AS requests_in,
  coalesce(o.requests_out, 0) AS requests_out,
  CASE WHEN i.requests_in IS NULL OR i.requests_in = 0 THEN NULL
       ELSE CAST(i.errors_in AS DOUBLE) / i.requests_in END AS error_rate
FROM outgoing o
FULL OUTER JOIN incoming i ON o.name = i.name
