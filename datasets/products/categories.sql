-- Product counts per category among the live products of the run's partitions.
WITH ranked AS (
  SELECT *, row_number() OVER (PARTITION BY product_id ORDER BY updated_at DESC) AS rn
  FROM {table}
  WHERE dt BETWEEN '{dt_from}' AND '{dt_to}'
)
SELECT category, count(*) AS products
FROM ranked
WHERE rn = 1 AND (op IS NULL OR op <> 'D') AND category IS NOT NULL
GROUP BY category
