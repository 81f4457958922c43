"""Importing a data folder (or DataFrames) into the input tables: all-or-nothing, every problem reported.

One path for CSV files and DataFrames:
1. the header is checked (every required column, no unknown or repeated one); each file then becomes an
   all-VARCHAR staging table `_import_stage_<table>` (cells trimmed, blank = NULL);
2. validation is set-based SQL over the staging tables (rules in import_rules.py): cell rules, row rules,
   duplicate ids within the file and against the database, references to the database or to this import,
   price-tier rules. Each problem found is a row of `_import_problems`;
3. only when there is none: typed INSERT … SELECT into the real tables, in one transaction.
Imports are additive: ids already in the database are duplicates, references may point at them.
Physical line numbers (header = line 1) are worked out only for the problems reported.
"""

from __future__ import annotations

import csv
import difflib
import math
from pathlib import Path

import duckdb
import pandas as pd

from ..db import transaction
from ..errors import ImportProblems, ValidationError
from ..io.logos import LOGO_TYPES, MAX_LOGO_BYTES, logo_file, logo_problem
from ..progress import Progress, no_progress
from ..rating.pricing import tiered_models
from ..schema import INPUT_TABLES
from .import_links import link_checks
from .import_rules import TABLES, Bind, Ref, Table, cell_checks, fast_valid, typed_expr

MAX_PROBLEMS = 1000  # problems listed; the count of all of them is always given
_VALUE_SHOWN = 60  # characters of an offending value quoted in a reason
_SCRATCH = ["_import_problems", "_import_customer_currency", "_import_rejects", "_import_reject_scans"]

# What DuckDB's CSV reader says about a row it cannot read, in a finance user's words.
_UNREADABLE_ROW = {
    "MISSING COLUMNS": "the row has fewer values than the header has columns",
    "TOO MANY COLUMNS": "the row has more values than the header has columns",
    "UNQUOTED VALUE": "a quoted value is not closed, or has text after its closing quote",
    "INVALID ENCODING": "the row is not UTF-8 text; save the file as UTF-8",
    "INVALID UNICODE": "the row is not UTF-8 text; save the file as UTF-8",
}


def import_folder(con: duckdb.DuckDBPyConnection, folder: Path, progress: Progress | None = None) -> dict[str, int]:
    """Import the CSV files of a data folder (the input files of spec sections 1 and 11); rows added per table."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "is a file, not a folder of CSV files" if folder.exists() else "does not exist"
        raise ValidationError(f"data folder {folder} {what}")
    sources = {t: _CsvSource(folder / f"{t}.csv") for t in INPUT_TABLES if (folder / f"{t}.csv").is_file()}
    early = []
    # A misspelt input file would silently import nothing; other CSV files (notes, expectations) are ignored.
    for path in sorted(folder.glob("*.csv")):
        near = difflib.get_close_matches(path.stem.lower(), INPUT_TABLES, n=1, cutoff=0.75)
        if path.stem not in TABLES and near:
            early.append(_problem(path.name, 0, "", f"not an input file: did you mean {near[0]}.csv?"))
    if not sources and not early:
        expected = ", ".join(f"{t}.csv" for t in INPUT_TABLES)
        early.append(_problem("", 0, "", f"the folder holds none of {expected}"))
    return _ImportRun(con, progress).run(sources, early)


def import_frames(
    con: duckdb.DuckDBPyConnection, frames: dict[str, pd.DataFrame], progress: Progress | None = None
) -> dict[str, int]:
    """Import DataFrames keyed by file stem ("customers", "usage", …); problems name them `<stem>.csv`."""
    expected = ", ".join(INPUT_TABLES)
    early = [
        _problem(f"{name}.csv", 0, "", f"unknown table '{name}': expected one of {expected}")
        for name in frames
        if name not in TABLES
    ]
    sources = {t: _FrameSource(t, frames[t]) for t in INPUT_TABLES if frames.get(t) is not None}
    return _ImportRun(con, progress).run(sources, early)


def _problem(file: str, line: int, column: str, reason: str) -> dict:
    return {"file": file, "line": line, "column": column, "reason": reason}


class _CsvSource:
    """A CSV file read by DuckDB as text; line numbers are physical lines of the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = path.name
        self.folder = path.parent  # where a file it names (a business's logo) is looked for
        self.rejected: list[tuple[int, str, str]] = []  # (byte offset, error type, message) of bad rows

    def header(self) -> list[str] | None:
        """The header's column names; None when the first line is blank or the file empty."""
        with self.path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
            return next(csv.reader(fh), None) or None

    def stage(self, con, target: str, cells: list[str]) -> list[dict]:
        """Create the staging table; returns a problem per row the CSV reader could not read."""
        width = len(self.header())

        def create(with_rejects: bool) -> None:
            bind = Bind()
            blank = bind("")
            exprs = ", ".join(cell.format(blank=blank) for cell in cells)
            options = (
                f"header = true, all_varchar = true, auto_detect = false, delim = {bind(',')}, "
                f"quote = {bind(chr(34))}, escape = {bind(chr(34))}, "
                f"columns = {bind({f'c{i}': 'VARCHAR' for i in range(width)})}"
            )
            if with_rejects:
                options += (
                    f", store_rejects = true, rejects_table = {bind('_import_rejects')}, "
                    f"rejects_scan = {bind('_import_reject_scans')}"
                )
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT {exprs} "  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
                f"FROM read_csv({bind(str(self.path))}, {options})",
                bind.params,
            )

        try:
            create(with_rejects=False)
            return []
        except duckdb.Error:
            pass  # a malformed row: read again, keeping what DuckDB cannot read (slower, so not the default)
        con.execute("DROP TABLE IF EXISTS _import_rejects")
        con.execute("DROP TABLE IF EXISTS _import_reject_scans")
        try:
            create(with_rejects=True)
        except duckdb.Error as exc:
            empty = ", ".join(f"NULL::VARCHAR AS {cell.rsplit(' AS ', 1)[1]}" for cell in cells)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT {empty} LIMIT 0")
            return [_problem(self.file, 0, "", "the file cannot be read as CSV: " + str(exc).splitlines()[0])]
        # One problem per unreadable row (DuckDB lists a row once per missing column).
        self.rejected = con.execute(
            "SELECT line_byte_position, min(error_type), min(error_message) FROM _import_rejects GROUP BY 1 ORDER BY 1"
        ).fetchall()
        lines = _lines_at_offsets(self.path, [r[0] for r in self.rejected])
        return [
            _problem(self.file, lines[at], "", _UNREADABLE_ROW.get(kind, f"unreadable row: {msg}"))
            for at, kind, msg in self.rejected
        ]

    def lines(self, indexes: set[int], staged_rows: int) -> dict[int, int]:
        """Physical line of each staged row (0-based index in file order)."""
        if not self.rejected and _count_lines(self.path) == staged_rows + 1:
            return {i: i + 2 for i in indexes}  # one line per row, the common case: no need to parse
        # Blank lines (DuckDB skips them), quoted line breaks or unreadable rows: walk the records.
        skipped = set(_lines_at_offsets(self.path, [r[0] for r in self.rejected]).values())
        found: dict[int, int] = {}
        index = 0
        with self.path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            start = reader.line_num + 1
            for record in reader:
                if record and start not in skipped:
                    if index in indexes:
                        found[index] = start
                    index += 1
                start = reader.line_num + 1
        return found


class _FrameSource:
    """A DataFrame as if written to `<name>.csv` with a header: row i is line i + 2."""

    def __init__(self, name: str, frame: pd.DataFrame) -> None:
        self.file = f"{name}.csv"
        self.folder = Path.cwd()  # a frame has no folder: a file it names is looked for where the import runs
        self.view = f"_import_frame_{name}"
        self.frame = frame

    def header(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    def stage(self, con, target: str, cells: list[str]) -> list[dict]:
        con.register(self.view, _as_text(self.frame))
        try:
            bind = Bind()
            blank = bind("")
            exprs = ", ".join(cell.format(blank=blank) for cell in cells)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT {exprs} FROM {self.view}", bind.params)  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
        finally:
            con.unregister(self.view)
        return []

    def lines(self, indexes: set[int], staged_rows: int) -> dict[int, int]:
        return {i: i + 2 for i in indexes}


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns renamed c0…cn (user names never reach SQL); values that would not cast exactly become text."""
    out = {}
    for i in range(frame.shape[1]):
        col = frame.iloc[:, i]
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            col = col.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif pd.api.types.is_datetime64_any_dtype(col.dtype):
            whole_days = bool((col.dropna() == col.dropna().dt.normalize()).all())
            col = col.dt.strftime("%Y-%m-%d" if whole_days else "%Y-%m-%dT%H:%M:%S")
        elif col.dtype == object:
            # Decimal, date and mixed objects as their exact text: DuckDB would guess one type for all.
            col = col.map(lambda v: None if _is_blank(v) else str(v)).astype(object)
        out[f"c{i}"] = col.reset_index(drop=True)
    return pd.DataFrame(out)


def _is_blank(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _count_lines(path: Path) -> int:
    lines, last = 0, b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def _lines_at_offsets(path: Path, offsets: list[int]) -> dict[int, int]:
    """1-based line of each byte offset (DuckDB locates the rows it cannot read by byte position)."""
    found: dict[int, int] = {}
    pending = sorted(set(offsets))
    line, pos = 1, 0
    with path.open("rb") as fh:
        while pending and (chunk := fh.read(1 << 24)):
            while pending and pending[0] < pos + len(chunk):
                offset = pending.pop(0)
                found[offset] = line + chunk.count(b"\n", 0, offset - pos)
            line += chunk.count(b"\n")
            pos += len(chunk)
    found.update({offset: line for offset in pending})
    return found


class _ImportRun:
    """One import: staging, checks, then the inserts; its temp tables are dropped whatever happens."""

    def __init__(self, con: duckdb.DuckDBPyConnection, progress: Progress | None = None) -> None:
        self.con = con
        self.progress = progress or no_progress
        self.sources: dict[str, _CsvSource | _FrameSource] = {}  # staged tables, in dependency order
        self.unreadable: set[str] = set()  # present, but not all its ids are known (header or CSV problems)
        self.base: dict[str, tuple[int, int]] = {}  # table -> (first staging rowid, rows)
        self.early: list[tuple[tuple, dict]] = []  # (sort key, problem) found outside SQL
        self.reasons: list[str] = []  # check_no -> reason template
        self.logos: dict[str, str] = {}  # a logo as named in businesses.csv -> its file's full path (checked)

    def run(self, sources: dict, early: list[dict]) -> dict[str, int]:
        self.early = [((-1, 0, 0), p) for p in early]
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE _import_problems (file_no INTEGER, row_id BIGINT, "
            "col_no INTEGER, check_no INTEGER, value VARCHAR, detail VARCHAR, other_row BIGINT)"
        )
        try:
            # shares of the work, roughly as measured on a 10M-row usage file: reading 45 %, checks 30 %
            for n, (table, source) in enumerate(sources.items()):
                self.progress(0.45 * n / len(sources), f"reading {table}.csv")
                self._stage(TABLES[table], source)
            with transaction(self.con):
                self.progress(0.45, "checking every row")
                self._check_all()
                problems = self._report()
                if problems:
                    raise problems
                self.progress(0.75, "writing the tables")
                counts = self._insert_all()
            self.progress(1.0, "imported")
            return counts
        finally:
            for name in _SCRATCH + [f"_import_stage_{t}" for t in INPUT_TABLES]:
                self.con.execute(f"DROP TABLE IF EXISTS {name}")

    # -- staging ---------------------------------------------------------------------------------
    def _header_problem(self, table: Table, pos: int, column: str, reason: str) -> None:
        key = (INPUT_TABLES.index(table.name), 1, pos)
        self.early.append((key, _problem(table.file, 1, column, reason)))

    def _stage(self, table: Table, source: _CsvSource | _FrameSource) -> None:
        header = source.header()
        if header is None:
            self._header_problem(
                table,
                0,
                "",
                f"the first line is blank or the file empty: the first line "
                f"must be the header ({', '.join(table.names)})",
            )
            self.unreadable.add(table.name)
            return
        positions: dict[str, int] = {}
        for pos, raw in enumerate(header):
            name = raw.strip()
            if name in positions:
                self._header_problem(table, pos, name, f"column '{name}' appears twice in the header")
            elif name in table.names:
                positions[name] = pos
            elif not name:
                self._header_problem(table, pos, "", f"column {pos + 1} of the header has no name")
            else:
                near = difflib.get_close_matches(name, table.names, n=1)
                hint = f" (did you mean '{near[0]}'?)" if near else f"; its columns: {', '.join(table.names)}"
                self._header_problem(table, pos, name, f"unknown column '{name}': not a column of {table.file}{hint}")
        missing = [c.name for c in table.columns if c.required and c.name not in positions]
        for name in missing:
            self._header_problem(table, len(header), name, f"required column '{name}' is missing from the header")
        if missing:
            self.unreadable.add(table.name)
            return
        stage = f"_import_stage_{table.name}"
        cells = [
            f"NULLIF(trim(CAST(c{positions[c.name]} AS VARCHAR)), {{blank}}) AS {c.name}"
            if c.name in positions
            else f"CAST(NULL AS VARCHAR) AS {c.name}"
            for c in table.columns
        ]
        for problem in source.stage(self.con, stage, cells):
            self.early.append(((INPUT_TABLES.index(table.name), problem["line"], -1), problem))
            # Rows of it are missing from staging: references to its ids could be blamed wrongly.
            self.unreadable.add(table.name)
        first, rows = self.con.execute(f"SELECT min(rowid), count(*) FROM {stage}").fetchall()[0]  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
        self.base[table.name] = (first or 0, rows)
        self.sources[table.name] = source

    # -- checks ----------------------------------------------------------------------------------
    def _reason(self, template: str, bind: Bind) -> str:
        """Register a reason template; its number goes into the SQL as a bound value."""
        self.reasons.append(template)
        return bind(len(self.reasons) - 1)

    def _add(self, table: Table, column: str, select: str, bind: Bind) -> None:
        """Record each row of `select` (rowid, check_no, value, detail, other_row) as a problem."""
        file_no, col_no = INPUT_TABLES.index(table.name), table.names.index(column) if column else -1
        self.con.execute(
            f"INSERT INTO _import_problems SELECT {bind(file_no)}, rowid, {bind(col_no)}, "  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
            f"check_no, value, detail, other_row FROM ({select})",
            bind.params,
        )

    def _typed(self, table: Table, bind: Bind) -> str:
        """The staging rows cast to their real types: `_row`, each column, and its text as raw_<column>."""
        cols = ", ".join(f"{typed_expr(c, bind)} AS {c.name}, s.{c.name} AS raw_{c.name}" for c in table.columns)
        return f"(SELECT s.rowid AS _row, {cols} FROM _import_stage_{table.name} s {table.joins})"  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)

    def _check_all(self) -> None:
        bind = Bind()
        # Each customer's currency, in the database or in this import: the default of contracts and charges.
        staged = (
            f" UNION ALL SELECT customer_id, coalesce(currency, {bind('USD')}) FROM _import_stage_customers"  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
            if "customers" in self.sources
            else ""
        )
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE _import_customer_currency AS SELECT customer_id, "  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
            "min(currency) AS currency FROM (SELECT customer_id, currency FROM customers"
            f"{staged}) GROUP BY customer_id",
            bind.params,
        )
        for name in self.sources:
            table = TABLES[name]
            self._check_cells(table)
            for rule in table.row_rules:
                bind = Bind()
                self._add(
                    table,
                    rule.column,
                    f"SELECT t._row AS rowid, {self._reason(rule.reason, bind)} AS "  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
                    f"check_no, {rule.value} AS value, {rule.detail} AS detail, NULL AS other_row "
                    f"FROM {self._typed(table, bind)} t WHERE {rule.when(bind)}",
                    bind,
                )
            self._check_key(table)
            for ref in table.refs:
                self._check_ref(table, ref)
        if "order_lines" in self.sources and "price_tiers" not in self.unreadable:
            self._check_lines_have_tiers()
        if "price_tiers" in self.sources:
            self._check_tiers()
        for check in link_checks(set(self.sources), self.unreadable):
            bind = Bind()
            self._add(TABLES[check.table], check.column, check.select(bind, self._reason(check.reason, bind)), bind)
        if "businesses" in self.sources:
            self._check_logos()

    def _check_logos(self) -> None:
        """A business's logo is a readable image file of at most MAX_LOGO_BYTES: its name is read next to
        businesses.csv (a workbench upload holds only CSV files: it needs the file's full path on the server)."""
        folder = self.sources["businesses"].folder
        named = self.con.execute(
            "SELECT rowid, logo_path FROM _import_stage_businesses WHERE logo_path IS NOT NULL"
        ).fetchall()
        # a name that is not an image file's is the logo_path rule's problem (import_rules), reported once
        files = [
            (rowid, name, logo_file(name, folder)) for rowid, name in named if Path(name).suffix.lower() in LOGO_TYPES
        ]
        bad = [rowid for rowid, _, file in files if logo_problem(file)]
        self.logos = {name: str(file) for _, name, file in files}
        if bad:
            bind = Bind()
            reason = self._reason(
                f"'{{value}}': no readable image file of at most {MAX_LOGO_BYTES // 1024} KiB by that name next to "
                "businesses.csv (from a workbench upload, give the logo's full path on the server)",
                bind,
            )
            self._add(
                TABLES["businesses"],
                "logo_path",
                f"SELECT rowid, {reason} AS check_no, logo_path AS value, NULL AS detail, NULL AS other_row "  # noqa: S608 (the engine's own SQL; the row ids bound)
                f"FROM _import_stage_businesses WHERE rowid IN (SELECT unnest({bind(bad)}::BIGINT[]))",
                bind,
            )

    def _check_cells(self, table: Table) -> None:
        """One scan per column: a CASE picks the first broken rule of each cell."""
        for col in table.columns:
            bind = Bind()
            branches = [f"WHEN {cond} THEN {self._reason(reason, bind)}" for cond, reason in cell_checks(col, bind)]
            fast = fast_valid(col, bind) if branches else None
            if fast:
                branches.insert(0, f"WHEN {fast} THEN NULL")
            blank = self._reason("a value is required", bind) if col.required else "NULL"
            if branches or col.required:
                self._add(
                    table,
                    col.name,
                    f"SELECT * FROM (SELECT s.rowid, CASE WHEN s.{col.name} IS NULL "  # noqa: S608 (column names from the engine's allow-lists; values bound)
                    f"THEN {blank} {' '.join(branches)} END AS check_no, s.{col.name} AS value, "
                    f"NULL AS detail, NULL AS other_row FROM _import_stage_{table.name} s) "
                    "WHERE check_no IS NOT NULL",
                    bind,
                )

    def _check_key(self, table: Table) -> None:
        if not table.key:
            return
        key, stage = table.key, f"_import_stage_{table.name}"
        # Counting the distinct ids first is cheaper than grouping them with their first rows (10M usage
        # ids: 1.9 -> 1.5 s CPU, issue 22); the rows of each repeated id are looked up only when there are some.
        repeated = self.con.execute(
            f"SELECT count(DISTINCT {key}) < count({key}) FROM {stage}"  # noqa: S608 (table and column names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES))
        ).fetchall()[0][0]
        if repeated:
            bind = Bind()
            again = self._reason(
                f"{key} '{{value}}' appears more than once in this file (first on line {{other_line}})", bind
            )
            self._add(
                table,
                key,
                f"SELECT s.rowid, {again} AS check_no, s.{key} AS value, NULL AS detail, "  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
                f"d.first_row AS other_row FROM {stage} s JOIN (SELECT {key}, min(rowid) AS first_row "
                f"FROM {stage} WHERE {key} IS NOT NULL GROUP BY {key} HAVING count(*) > 1) d "
                f"ON s.{key} = d.{key} WHERE s.rowid > d.first_row",
                bind,
            )
        bind = Bind()
        known = self._reason(
            f"{key} '{{value}}' is already in the database (an import adds rows; a row "
            "imported before is a duplicate, not new data)",
            bind,
        )
        self._add(
            table,
            key,
            f"SELECT s.rowid, {known} AS check_no, s.{key} AS value, NULL AS detail, "  # noqa: S608 (column names from the engine's allow-lists; values bound)
            f"NULL AS other_row FROM {stage} s SEMI JOIN {table.name} db ON s.{key} = db.{key}",
            bind,
        )

    def _check_ref(self, table: Table, ref: Ref) -> None:
        """The referenced id must be in the database or in this import's file of that table."""
        parent = TABLES[ref.parent]
        if ref.parent in self.unreadable:
            return  # its ids are unknown; its own header problem is reported
        bind, col, key = Bind(), ref.column, parent.key
        where = f"s.{col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {parent.name} p WHERE p.{key} = s.{col})"  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
        if ref.parent in self.sources:
            where += f" AND NOT EXISTS (SELECT 1 FROM _import_stage_{parent.name} p WHERE p.{key} = s.{col})"  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
            reason = f"unknown {ref.noun} '{{value}}': not in {parent.file} nor in the database"
        else:
            reason = f"unknown {ref.noun} '{{value}}': not in the database, and this import has no {parent.file}"
        self._add(
            table,
            col,
            f"SELECT s.rowid, {self._reason(reason, bind)} AS check_no, s.{col} AS value, "  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
            f"NULL AS detail, NULL AS other_row FROM _import_stage_{table.name} s WHERE {where}",
            bind,
        )

    def _check_lines_have_tiers(self) -> None:
        """A graduated or volume line needs its tiers in the same import (it cannot have any yet)."""
        bind = Bind()
        where = f"list_contains({bind(list(tiered_models()))}, s.pricing_model)"
        if "price_tiers" in self.sources:
            reason = "a {value} line needs price tiers, and price_tiers.csv has none for it"
            where += " AND NOT EXISTS (SELECT 1 FROM _import_stage_price_tiers p WHERE p.line_id = s.line_id)"
        else:
            reason = "a {value} line needs price tiers, and this import has no price_tiers.csv"
        self._add(
            TABLES["order_lines"],
            "pricing_model",
            f"SELECT s.rowid, {self._reason(reason, bind)} AS check_no, s.pricing_model AS value, "  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
            f"NULL AS detail, NULL AS other_row FROM _import_stage_order_lines s WHERE {where}",
            bind,
        )

    def _check_tiers(self) -> None:
        """Tiers belong to a new graduated/volume line; bounds differ; exactly one, the last, is unbounded."""
        table = TABLES["price_tiers"]
        bind = Bind()
        tiered = bind(list(tiered_models()))
        not_tiered = self._reason(
            "order line '{value}' is priced '{detail}': only "
            + " and ".join(tiered_models())
            + " lines have price tiers",
            bind,
        )
        in_db = self._reason(
            "order line '{value}' is already in the database with its tiers; tiers "
            "cannot be added to a line imported before",
            bind,
        )
        staged = (
            "SELECT line_id, pricing_model, false FROM _import_stage_order_lines"
            if "order_lines" in self.sources
            else "SELECT NULL, NULL, NULL WHERE false"
        )
        self._add(
            table,
            "line_id",
            f"SELECT s.rowid, CASE WHEN NOT list_contains({tiered}, l.pricing_model) "  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
            f"THEN {not_tiered} ELSE {in_db} END AS check_no, s.line_id AS value, l.pricing_model AS "
            "detail, NULL AS other_row FROM _import_stage_price_tiers s JOIN (SELECT line_id, "
            f"pricing_model, true AS in_db FROM order_lines UNION ALL {staged}) l "
            f"ON l.line_id = s.line_id WHERE l.in_db OR NOT list_contains({tiered}, l.pricing_model)",
            bind,
        )

        bind = Bind()
        same = self._reason("order line '{value}' has two tiers up to {detail} (the other on line {other_line})", bind)
        self._add(
            table,
            "up_to",
            f"WITH tiers AS {self._typed(table, bind)} SELECT t._row AS rowid, {same} "  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
            "AS check_no, t.line_id AS value, t.raw_up_to AS detail, d.first_row AS other_row "
            "FROM tiers t JOIN (SELECT line_id, up_to, min(_row) AS first_row FROM tiers "
            "WHERE up_to IS NOT NULL GROUP BY ALL HAVING count(*) > 1) d "
            "ON t.line_id = d.line_id AND t.up_to = d.up_to WHERE t._row > d.first_row",
            bind,
        )

        bind = Bind()
        second = self._reason(
            "order line '{value}' has more than one unbounded tier (blank up_to; the "
            "first on line {other_line}): only its last tier may be unbounded",
            bind,
        )
        self._add(
            table,
            "up_to",
            f"WITH tiers AS {self._typed(table, bind)} SELECT t._row AS rowid, "  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
            f"{second} AS check_no, t.line_id AS value, NULL AS detail, d.first_row AS other_row "
            "FROM tiers t JOIN (SELECT line_id, min(_row) AS first_row FROM tiers "
            "WHERE raw_up_to IS NULL GROUP BY ALL) d ON t.line_id = d.line_id "
            "WHERE t.raw_up_to IS NULL AND t._row > d.first_row",
            bind,
        )

        bind = Bind()
        # Reported on the highest bounded tier: that is the one whose up_to should be blank.
        none = self._reason(
            "order line '{value}' has no unbounded last tier: leave up_to blank on its highest tier", bind
        )
        self._add(
            table,
            "up_to",
            f"WITH tiers AS {self._typed(table, bind)} SELECT arg_max(_row, up_to) "  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
            f"AS rowid, {none} AS check_no, line_id AS value, NULL AS detail, NULL AS other_row "
            "FROM tiers WHERE line_id IS NOT NULL GROUP BY line_id "
            "HAVING count(*) FILTER (raw_up_to IS NULL) = 0 AND arg_max(_row, up_to) IS NOT NULL",
            bind,
        )

    # -- report ----------------------------------------------------------------------------------
    def _report(self) -> ImportProblems | None:
        """The first MAX_PROBLEMS problems in file, line and column order, with the count of all."""
        total = self.con.execute("SELECT count(*) FROM _import_problems").fetchall()[0][0] + len(self.early)
        if not total:
            return None
        rows = self.con.execute(
            "SELECT file_no, row_id, col_no, check_no, value, detail, other_row "
            "FROM _import_problems ORDER BY file_no, row_id, col_no, check_no LIMIT $cap",
            {"cap": MAX_PROBLEMS},
        ).fetchall()
        wanted: dict[int, set[int]] = {}
        for file_no, row_id, _, _, _, _, other in rows:
            first = self.base[INPUT_TABLES[file_no]][0]
            wanted.setdefault(file_no, set()).update(r - first for r in (row_id, other) if r is not None)
        lines = {}
        for file_no, indexes in wanted.items():
            name = INPUT_TABLES[file_no]
            lines[file_no] = self.sources[name].lines(indexes, self.base[name][1])
        listed = list(self.early)
        for file_no, row_id, col_no, check_no, value, detail, other in rows:
            table, first = TABLES[INPUT_TABLES[file_no]], self.base[INPUT_TABLES[file_no]][0]
            line = lines[file_no].get(row_id - first, 0)
            other_line = "" if other is None else lines[file_no].get(other - first, "?")
            reason = self.reasons[check_no].format(value=_shown(value), detail=_shown(detail), other_line=other_line)
            column = table.names[col_no] if col_no >= 0 else ""
            listed.append(((file_no, line, col_no), _problem(table.file, line, column, reason)))
        listed.sort(key=lambda item: item[0])
        problems = [p for _, p in listed[:MAX_PROBLEMS]]
        if total > MAX_PROBLEMS:
            problems.append(
                _problem(
                    "", 0, "", f"{MAX_PROBLEMS} of {total} problems listed; fix these and import again to see the rest"
                )
            )
        error = ImportProblems(problems)
        error.total = total
        return error

    # -- insert ----------------------------------------------------------------------------------
    def _insert_all(self) -> dict[str, int]:
        counts = dict.fromkeys(INPUT_TABLES, 0)
        # a logo is stored as its file's full path, so a document finds it wherever the server runs
        for named, full in self.logos.items():
            self.con.execute("UPDATE _import_stage_businesses SET logo_path = ? WHERE logo_path = ?", [full, named])
        for name in self.sources:
            table, bind = TABLES[name], Bind()
            cols = ", ".join(table.names)
            select = ", ".join(f"t.{c}" for c in table.names)
            if name == "price_tiers":
                # tier_no = 1..n per line in order of up_to, the unbounded tier last.
                cols = "line_id, tier_no, up_to, unit_price, flat_fee"
                select = (
                    "t.line_id, row_number() OVER (PARTITION BY t.line_id ORDER BY t.up_to NULLS LAST)"
                    "::INTEGER, t.up_to, t.unit_price, t.flat_fee"
                )
            # Usage is stored clustered by contract and date: one contract's rows then sit in a few row
            # groups, which a preview's `contract_id = ?` scan reads alone (zone maps skip the rest).
            order = " ORDER BY t.contract_id, t.usage_date" if name == "usage" else ""
            self.con.execute(
                f"INSERT INTO {name} ({cols}) SELECT {select} FROM {self._typed(table, bind)} t{order}",  # noqa: S608 (table and column names from import_rules.TABLES; values bound)
                bind.params,
            )
            counts[name] = self.base[name][1]
        return counts


def _shown(value: str | None) -> str:
    if value is None:
        return ""
    return value if len(value) <= _VALUE_SHOWN else value[: _VALUE_SHOWN - 1] + "…"
