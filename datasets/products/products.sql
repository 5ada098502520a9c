-- The latest state of every product changed in the run's partitions; deleted products drop out.
WITH ranked AS (
  SELECT *, row_number() OVER (PARTITION BY product_id ORDER BY updated_at DESC) AS rn
  FROM {table}
  WHERE dt BETWEEN '{dt_from}' AND '{dt_to}'
)
SELECT product_id, product_name, category, is_active, created_date, price, updated_at
FROM ranked
WHERE rn = 1 AND (op IS NULL OR op <> 'D') AND category IS NOT NULL
