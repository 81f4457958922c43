"""Bill runs and what-ifs on Apache Spark (spec section 10): the engine's own rating, per customer partition.

    inputs.py        export-inputs: the six input tables as Parquet, with a fingerprint of the data
    packing.py       the six tables as ONE customer-keyed DataFrame, and back into an engine database
    session.py       a SparkSession (local by default; --master for a cluster)
    partition.py     what one task does: an in-memory engine database of its customers, the engine's
                     own bill run (or simulation) on it, its rows out as Arrow
    run.py           spark-run: bill the period of a date for every active contract
    import_drafts.py import-drafts: a Spark run's invoices into a ledger as drafts of one recorded run
    simulate.py      spark-simulate: the what-if of section 7

PySpark is imported only inside these modules' functions that need it, so the rest of the engine (and
import-drafts, which reads the Parquet output with DuckDB) works without a Java runtime.
"""
