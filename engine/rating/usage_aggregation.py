"""Usage aggregation: the quantity a usage line is priced on, before any pricing.

    q = sum | count | max of quantity over APPROVED usage rows of the line's contract and metric
        whose usage_date lies in the line's active window.

Pending and rejected usage is never billed. One hash join of usage against the usage lines of all
targets; the scan is first narrowed to the dates any window covers.
"""

from __future__ import annotations

import duckdb

from .id_filters import FEW_IDS, ids_filter
from .sources import check_source


def aggregate_usage(con: duckdb.DuckDBPyConnection, src: str, contract_ids: list[str] | None = None) -> None:
    """_rating_lines -> _usage_agg(line_row, q_sum, q_max, n_rows), `line_row` the rowid of its line in
    _rating_lines (a table made by one CREATE … AS and never changed, so its rowids stay its rows'). Grouped by
    that one integer, not by (contract_id, period_start, line_id): two strings and a date per usage row cost a
    third of the statement, and the rating joins the aggregates back by the same integer.

    `contract_ids`: every contract of _rating_lines, when the caller knows them (a preview, a draft)."""
    src = check_source(src)
    if contract_ids is not None and len(contract_ids) <= FEW_IDS:
        few, narrow, narrow_params = contract_ids, "TRUE", []  # the join bounds the dates at run time
    else:
        lo, hi, few = con.execute(
            f"""SELECT min(win_start), max(win_end),
                       CASE WHEN count(DISTINCT contract_id) <= {FEW_IDS} THEN list(DISTINCT contract_id) END
                FROM _rating_lines WHERE kind = 'usage'"""  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
        ).fetchone()
        narrow, narrow_params = "u.usage_date BETWEEN ? AND ?", [lo, hi]
    # A preview or a single draft names its contract as a constant filter, so the scan of usage (clustered
    # by contract at import) reads only that contract's row groups; a bulk rating scans the date range.
    only, only_params = ids_filter("u.contract_id", few) if few else ("TRUE", [])
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _usage_agg AS
            SELECT l.rowid AS line_row, sum(u.quantity) AS q_sum, max(u.quantity) AS q_max, count(*) AS n_rows
            FROM _rating_lines l
            JOIN {src}.usage u
              ON u.contract_id = l.contract_id AND u.metric = l.metric
             AND u.usage_date BETWEEN l.win_start AND l.win_end
            WHERE l.kind = 'usage' AND u.status = 'approved' AND {narrow} AND {only}
            GROUP BY l.rowid""",  # noqa: S608 (schema name checked by rating.sources.check_source; engine-built filters; values bound)
        [*narrow_params, *only_params],
    )


def pending_usage(con: duckdb.DuckDBPyConnection, contract_id: str, start, end, src: str = "main") -> list[dict]:
    """Usage of a contract in [start, end] that is NOT billed (pending), for the preview to show."""
    src = check_source(src)
    rows = con.execute(
        f"""SELECT usage_id, metric, usage_date, quantity, status FROM {src}.usage
            WHERE contract_id = ? AND usage_date BETWEEN ? AND ? AND status = 'pending'
            ORDER BY usage_date, usage_id LIMIT 200""",  # noqa: S608 (schema name checked by rating.sources.check_source; values bound)
        [contract_id, start, end],
    ).fetchall()
    return [
        {
            "usage_id": r[0],
            "metric": r[1],
            "usage_date": r[2],
            "quantity": format(r[3].normalize(), "f"),
            "status": r[4],
        }
        for r in rows
    ]
