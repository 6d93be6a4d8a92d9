-- Runs unchanged on DuckDB (Lambda) and Spark SQL (Glue): keep to the dialect both share.
-- One output row per order (the driving source); the customer join must not fan out,
-- and ties are broken explicitly (NULLS FIRST/LAST too) so both engines pick the same row.
SELECT
    o.order_id,
    o.customer_id,
    c.country AS customer_country,
    c.email AS customer_email,
    COALESCE(t.tier, 'none') AS customer_tier,
    o.order_ts,
    CAST(o.order_ts AS DATE) AS order_date,
    o.status,
    o.quantity,
    o.unit_price,
    CAST(o.quantity * o.unit_price AS DECIMAL(18, 2)) AS amount,
    o._origin
FROM orders AS o
LEFT JOIN (
    SELECT customer_id, country, email,
           ROW_NUMBER() OVER (
               PARTITION BY customer_id
               ORDER BY signup_date DESC NULLS LAST, country ASC NULLS LAST, email ASC NULLS LAST
           ) AS rn
    FROM customers
) AS c
    ON c.customer_id = o.customer_id AND c.rn = 1
LEFT JOIN tiers AS t
    ON t.customer_id = o.customer_id
