"""Long text in a table, readable where it is: st.dataframe draws on a canvas, and a cell's text longer than its
column is cut off. A text column of fixed width wraps its text when the rows are taller than 4rem (Streamlit's
`row_height`), so a table whose texts are long gets rows of as many lines as its longest text needs, up to a bound
(beyond it, the page shows the full text elsewhere: the Review page's ticked draft lists every flag's reason).

    row_height_for(columns, max_lines)   the row height (px) that shows the longest text of each column in full
                                         (None: one line is enough, Streamlit's default height)
    table_height(rows, row_height)       the height of a table showing up to MAX_SHOWN_PX of its rows

The longest text is measured with pyarrow over the whole column (no Python loop over rows: the Review page's table
holds every draft of a run).
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

CHAR_PX = 7.4  # a character of the grid's font, on average (a little wide: a cut word is worse than a spare line)
LINE_PX = 21  # one more line of text in a row
ONE_LINE_PX = 35  # Streamlit's row of one line
WRAPS_ABOVE_PX = 64  # Streamlit wraps a cell's text only in rows taller than 4rem (its data grid's rule)
CELL_PADDING_PX = 18  # left and right padding of a cell
HEADER_PX = 38
MAX_SHOWN_PX = 560


LONGEST_MEASURED = 50  # the longest texts of a column are wrapped word by word; the others are shorter


def _longest(values) -> list[str]:
    """The LONGEST_MEASURED longest texts of `values` (a pyarrow array or column, or a sequence)."""
    if not isinstance(values, pa.Array | pa.ChunkedArray):
        values = pa.array([None if v is None else str(v) for v in values], type=pa.string())
    values = values.cast(pa.string())
    if len(values) == 0:
        return []
    lengths = pc.fill_null(pc.utf8_length(values), 0)
    order = pc.select_k_unstable(
        lengths, k=min(LONGEST_MEASURED, len(values)), sort_keys=[("", "descending")]
    )  # an array: the key name is not used
    return [t for t in values.take(order).to_pylist() if t]


def lines_for(text: str, width_px: int) -> int:
    """Lines `text` takes in a column `width_px` wide, wrapped word by word (a word longer than a line is cut
    into lines of its own)."""
    per_line = max(1, int((width_px - CELL_PADDING_PX) / CHAR_PX))
    lines, used = 1, 0
    for word in text.split():
        size = len(word)
        if used and used + 1 + size > per_line:
            lines, used = lines + 1, 0
        if not used and size > per_line:
            lines += (size - 1) // per_line
            size = (size - 1) % per_line + 1
        used = used + 1 + size if used else size
    return lines


def row_height_for(columns: Iterable[tuple[object, int]], max_lines: int) -> int | None:
    """The row height showing the longest text of every (values, column width in px) in full, up to `max_lines`
    lines; None when every text fits on one line."""
    lines = max((lines_for(t, width) for values, width in columns for t in _longest(values)), default=1)
    lines = min(lines, max_lines)
    return None if lines <= 1 else max(ONE_LINE_PX + (lines - 1) * LINE_PX, WRAPS_ABOVE_PX + 1)


def table_height(rows: int, row_height: int | None) -> int:
    """A table's height: its header and its rows, up to MAX_SHOWN_PX (then it scrolls)."""
    return min(HEADER_PX + (row_height or ONE_LINE_PX) * max(rows, 1), MAX_SHOWN_PX)
