"""Airflow: DagBag loading, `airflow dags test` runs, the OpenLineage config."""
