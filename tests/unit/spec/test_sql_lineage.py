"""Every table a SQL source's query reads, named as OpenLineage names it (spec/sql.py
`source_tables`), the `tables` list checked against the query (E314), and the columns a query
reads checked against the tables a connection declares (E315).

The names are checked against OpenLineage's own naming helpers (`openlineage.client.naming`),
and the tables a query reads against OpenLineage's SQL parser (`openlineage_sql`, what
Airflow's OpenLineage provider runs on the query at run time)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import REPO
from mlspec.compiler.session import load_text, load_unit
from mlspec.spec.sql import (
    TableRef,
    connection_namespace,
    parse_query,
    source_tables,
    table_name,
    undeclared_columns,
)

DEMAND = REPO / "tests/cases/sql/demand.yaml"


def _conn(type_, host=None, port=None, database=None, schema=None):
    return SimpleNamespace(type=type_, host=host, port=port, database=database, schema_=schema)


# --- OpenLineage's naming ----------------------------------------------------------------------


def test_each_database_type_names_tables_as_openlineages_naming_helpers_do():
    from openlineage.client.naming import dataset as ol

    cases = [
        (_conn("postgres", "db.internal", None, "analytics"), TableRef("orders"),
         ol.Postgres(host="db.internal", port="5432", database="analytics", schema="public", table="orders")),
        (_conn("mysql", "db.internal", 3307, "shop"), TableRef("orders"),
         ol.MySQL(host="db.internal", port="3307", database="shop", table="orders")),
        (_conn("redshift", "cluster1.eu-west-1", None, "dev"), TableRef("orders", "sales"),
         ol.Redshift(cluster_identifier="cluster1", region="eu-west-1", port="5439", database="dev",
                     schema="sales", table="orders")),
        (_conn("snowflake", "myorg-acct", None, "DB"), TableRef("ORDERS", "SALES"),
         ol.Snowflake(organization_name="myorg", account_name="acct", database="DB", schema="SALES",
                      table="ORDERS")),
        (_conn("bigquery", None, None, "proj", "ds"), TableRef("orders"),
         ol.BigQuery(project_id="proj", dataset_name="ds", table_name="orders")),
        (_conn("trino", "trino.internal", None, "hive", "default"), TableRef("orders"),
         ol.Trino(host="trino.internal", port="8080", catalog="hive", schema="default", table="orders")),
        (_conn("oracle", "ora.internal", None, "ORCL"), TableRef("ORDERS", "APP"),
         ol.Oracle(host="ora.internal", port="1521", service_name="ORCL", schema="APP", table="ORDERS")),
        (_conn("teradata", "td.internal"), TableRef("orders", "sales"),
         ol.Teradata(host="td.internal", port="1025", database="sales", table="orders")),
    ]
    for connection, ref, expected in cases:
        name, why = table_name(connection, ref)
        assert (connection_namespace(connection), name) == (expected.get_namespace(), expected.get_name()), \
            (connection.type, why)


def test_a_table_written_with_its_schema_or_database_keeps_them_and_fills_in_the_rest():
    postgres = _conn("postgres", "h", None, "analytics", "core")
    assert table_name(postgres, TableRef("orders"))[0] == "analytics.core.orders"
    assert table_name(postgres, TableRef("orders", "sales"))[0] == "analytics.sales.orders"
    assert table_name(postgres, TableRef("orders", "sales", "other"))[0] == "other.sales.orders"
    name, why = table_name(_conn("mysql", "h"), TableRef("orders"))
    assert name is None and "without its database" in why
    name, why = table_name(_conn("mysql", "h", None, "shop"), TableRef("orders", "b", "a"))
    assert name is None and "at most 2" in why


# --- every table a query reads -----------------------------------------------------------------

QUERIES = [
    "SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id LEFT JOIN crm.segments s ON s.id = c.segment",
    "SELECT id FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE EXISTS (SELECT 1 FROM vip v WHERE v.id = customers.id))",
    "SELECT id FROM orders UNION ALL SELECT id FROM archive.orders EXCEPT SELECT id FROM refunds",
    "SELECT t.id FROM (SELECT id FROM orders JOIN returns USING (id)) t",
]


@pytest.mark.parametrize("sql", QUERIES)
def test_the_tables_a_query_reads_are_the_ones_openlineages_sql_parser_finds(sql):
    import openlineage_sql

    connection = _conn("postgres", "db.internal", 5432, "analytics")
    ours = set(source_tables(parse_query(sql, "postgres"), [], connection).uris)
    theirs = {f"postgres://db.internal:5432/analytics.{t.schema or 'public'}.{t.name}"
              for t in openlineage_sql.parse([sql], dialect="postgres", default_schema="public").in_tables}
    assert ours == theirs and len(ours) >= 2


@pytest.mark.parametrize("sql", [
    "WITH weekly AS (SELECT store_id, SUM(units) AS units FROM sales GROUP BY store_id), "
    "ranked AS (SELECT * FROM weekly) SELECT r.store_id, p.price FROM ranked r JOIN prices p USING (store_id)",
    "WITH w AS (SELECT store_id, units FROM sales) SELECT w.store_id, p.price FROM w JOIN prices p ON p.store_id = w.store_id",
])
def test_tables_read_only_inside_a_cte_are_named_and_cte_names_are_not(sql):
    """What openlineage_sql finds is named too; it is not always all: 1.54 leaves out `sales`
    from the second query (a table read only in a WITH clause), which the static graph names."""
    import openlineage_sql

    uris = source_tables(parse_query(sql, "postgres"), [], _conn("postgres", "h", 5432, "db")).uris
    assert uris == ("postgres://h:5432/db.public.prices", "postgres://h:5432/db.public.sales")
    theirs = {f"postgres://h:5432/db.public.{t.name}" for t in openlineage_sql.parse([sql], dialect="postgres").in_tables}
    assert theirs <= set(uris)


def test_the_ir_of_a_spec_on_described_connections_names_every_table_each_source_reads():
    unit = load_unit(DEMAND)
    assert unit.ok, [d.message for d in unit.diagnostics]
    tables = {d.name: d.source.tables for d in unit.project.base.datasets}
    assert tables == {
        "store_weeks": ("postgres://warehouse.internal:5432/analytics.pricing.prices",
                        "postgres://warehouse.internal:5432/analytics.public.sales",
                        "postgres://warehouse.internal:5432/analytics.public.stores"),
        "promotions": ("mysql://shop-db.internal:3307/promo.archive", "mysql://shop-db.internal:3307/promo.campaigns",
                       "mysql://shop-db.internal:3307/shop.stores"),
        "stockouts": ("postgres://warehouse.internal:5432/analytics.ops.stockouts",),
    }


# --- `tables` against the query (E314) ---------------------------------------------------------

JOIN = "SELECT o.id FROM orders o JOIN sales.customers c ON c.id = o.customer_id"


def test_without_a_described_connection_tables_must_be_exactly_what_the_query_reads():
    parsed = parse_query(JOIN, "postgres")
    good = ["postgres://db:5432/a.public.orders", "postgres://db:5432/a.sales.customers"]
    assert source_tables(parsed, good, None).problems == ()
    assert source_tables(parsed, good, None).uris == tuple(good)
    problems = source_tables(parsed, good[:1], None).problems
    assert [p.message for p in problems] == ["the query reads `sales.customers`, which `tables` does not list"]
    problems = source_tables(parsed, [*good, "postgres://db:5432/a.public.refunds"], None).problems
    assert [(p.index, p.label) for p in problems] == [(2, "not read by the query")]
    # the schema a query writes must match the URI's
    problems = source_tables(parsed, ["postgres://db:5432/a.public.orders", "postgres://db:5432/a.public.customers"],
                             None).problems
    assert [p.index for p in problems] == [1, None]


def test_with_a_described_connection_written_tables_must_equal_the_derived_names():
    connection = _conn("postgres", "db", 5432, "a")
    parsed = parse_query(JOIN, "postgres")
    derived = source_tables(parsed, [], connection)
    assert derived.problems == ()
    assert source_tables(parsed, list(derived.uris), connection).problems == ()
    stale = source_tables(parsed, ["postgres://db:5432/a.public.orders", "postgres://old:5432/a.sales.customers"],
                          connection).problems
    assert [(p.index, p.label) for p in stale] == [(1, "not read by the query"), (None, "incomplete")]


def _spec(datasets: str, connections: str = "") -> str:
    return f"""apiVersion: mlspec/v1alpha1
kind: MLSystem
metadata: {{name: demo}}
platform:
  objectStore: {{endpoint: http://minio:9000, credentialsSecret: minio-credentials}}
{connections}
datasets:
{datasets}
"""


def _codes(text: str) -> list[tuple[str, str]]:
    unit = load_text(Path("spec.yaml"), text)
    return [(d.code, d.message) for d in unit.diagnostics if d.severity == "error"]


def test_the_check_pass_reports_e314_and_e315_and_a_correct_spec_passes():
    connections = """  connections:
    wh:
      type: postgres
      host: wh.internal
      database: analytics
      tables:
        orders: [id, customer_id, amount]
        sales.customers: [id, name]"""
    good = """  orders:
    source: {sql: "SELECT o.id, c.name, o.amount FROM orders o JOIN sales.customers c ON c.id = o.customer_id", connection: wh}
    storage: s3://raw/orders.parquet"""
    assert _codes(_spec(good, connections)) == []
    bad = good.replace("o.amount", "o.total").replace("connection: wh}", "connection: wh, tables: [\"postgres://wh.internal:5432/analytics.public.orders\"]}")
    codes = _codes(_spec(bad, connections))
    assert sorted(codes) == [
        ("E314", "the query reads `postgres://wh.internal:5432/analytics.sales.customers`, which `tables` does not list"),
        ("E315", "the query reads `o.total`, a column its tables do not declare: `o` (orders) has no column `total`")]


# --- the columns a query reads (E315) ---------------------------------------------------------

SCHEMA = {"orders": {"id", "customer_id", "amount", "created_at"}, "customers": {"id", "name", "segment"}}


def _undeclared(sql: str) -> list[str]:
    return [column for column, _, _ in undeclared_columns(parse_query(sql, "postgres"),
                                                          lambda ref: SCHEMA.get(ref.name))]


@pytest.mark.parametrize("sql", [
    "SELECT * FROM orders",
    "SELECT o.*, c.name FROM orders o JOIN customers c ON c.id = o.customer_id",
    "SELECT customer_id, SUM(amount) AS total FROM orders GROUP BY customer_id HAVING SUM(amount) > 0 ORDER BY total",
    "WITH t AS (SELECT customer_id, SUM(amount) AS total FROM orders GROUP BY 1) SELECT t.total, c.name FROM t JOIN customers c ON c.id = t.customer_id",
    "WITH t AS (SELECT * FROM orders) SELECT t.anything FROM t",
    "SELECT x.n FROM (SELECT COUNT(*) AS n FROM orders) x",
    "SELECT id FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE segment = 'a')",
    "SELECT id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND amount > 0 AND name <> '')",
    "SELECT id, amount FROM orders UNION ALL SELECT id, NULL FROM customers ORDER BY amount",
    "SELECT o.id, u.whatever FROM orders o JOIN users u ON u.id = o.customer_id",
    "SELECT id, whatever FROM orders JOIN users USING (id)",
    "SELECT id, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY created_at) AS rn, CURRENT_DATE FROM orders",
    "SELECT ORDERS.ID, Amount FROM Orders",
    "SELECT t.a, t.b FROM orders AS t(a, b)",
])
def test_queries_that_read_only_declared_columns_are_not_reported(sql):
    assert _undeclared(sql) == []


@pytest.mark.parametrize("sql, columns", [
    ("SELECT id, amount, totl FROM orders", ["totl"]),
    ("SELECT o.id, c.nam FROM orders o JOIN customers c ON c.id = o.customer_idd", ["c.nam", "o.customer_idd"]),
    ("WITH t AS (SELECT customer_id, SUM(amount) AS amount FROM orders GROUP BY 1) SELECT t.total FROM t", ["t.total"]),
    ("WITH t AS (SELECT customer_id, SUM(amnt) AS amount FROM orders GROUP BY 1) SELECT t.amount FROM t", ["amnt"]),
    ("SELECT id FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE segmnt = 'a')", ["segmnt"]),
    ("SELECT id, amount FROM orders UNION SELECT id, nme FROM customers", ["nme"]),
    ("SELECT x.m FROM (SELECT COUNT(*) AS n FROM orders) x", ["x.m"]),
])
def test_a_column_no_table_declares_is_reported(sql, columns):
    assert sorted(_undeclared(sql)) == sorted(columns)


def test_a_connection_without_a_host_keeps_the_written_tables_and_still_checks_them():
    """Its type gives the dialect; the namespace needs the host, so `tables` names the tables."""
    connection = _conn("mysql", None, None, "shop")
    parsed = parse_query("SELECT o.id FROM orders o JOIN shop.customers c ON c.id = o.cid", "mysql")
    written = ["mysql://db:3306/shop.orders", "mysql://db:3306/shop.customers"]
    assert source_tables(parsed, written, connection) == source_tables(parsed, written, None)
    assert source_tables(parsed, written, connection).problems == ()
    assert [p.label for p in source_tables(parsed, written[:1], connection).problems] == ["incomplete"]
