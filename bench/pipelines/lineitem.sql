SELECT
    l_orderkey, l_partkey, l_suppkey, l_linenumber, l_quantity, l_extendedprice, l_discount, l_tax,
    l_returnflag, l_linestatus, l_shipdate, l_commitdate, l_receiptdate, l_shipinstruct, l_shipmode, l_comment,
    CAST(EXTRACT(YEAR FROM l_shipdate) AS INT) AS l_shipyear,
    CAST(l_extendedprice * (1 - l_discount) AS DECIMAL(18, 2)) AS l_netprice,
    _origin
FROM lineitem
