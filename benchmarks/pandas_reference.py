"""An INDEPENDENT vectorized pandas implementation of a bill run's invoices (spec BILLING.md §2–3).

It is the benchmark's baseline and its correctness check: it reads the input tables of a billsim
database into pandas and computes, for every contract active on `period_date`, the invoice of the
cycle that contains that date — written from the spec text, sharing no code with the engine's
rating (it never imports engine.rating.pipeline / pricing / cycles / usage_aggregation / targets).

    cycles       numpy month arithmetic: boundaries on day min(anchor, month end) of every L-th month
                 counted from the month of start_date; the cycle of D = [b(k), b(k+1) − 1] for the
                 largest k with b(k) ≤ D, clipped to the contract; period_days = b(k+1) − b(k)
    lines        active window = cycle ∩ line window (the cycle is already clipped to the contract);
                 one_time lines bill whole in the cycle containing their start
    usage        APPROVED rows of the line's contract and metric dated in the window: sum | count | max,
                 int64 scaled by 10^6: the rows come as Arrow (only the outer date range of all windows is
                 pushed into the read), (contract, metric) become integer codes (pyarrow.compute.index_in),
                 then a hash lookup to the line, the per-line window test and a pandas group-by
    price        exact integers: q×10^6, prices×10^12, the price of q as an integer numerator ÷ 10^18
    amount       round_half_away(price × days/period_days × (100 − d)/100 × 10^minor_units), ONCE
    true-up      max(0, round(m × contract days / period_days) − Σ rounded order-line amounts)
    coupons      (spec section 11) each applied coupon covering the cycle (the contract's cycles starting on or
                 after applied_on, counted: once the first, recurring the first `periods`, forever all; a fixed one
                 only in its currency), one coupon position at a time over every invoice: what each order line
                 (of the coupon's products) has left, its sum, the coupon = min(fixed, sum) or round(sum × p / 100),
                 split in proportion by largest remainder (ties: the smaller line_id)
    tax          per tax code of the invoice's lines (a line's own codes, 'none', else its customer's; the
                 true-up its customer's): round(Σ (amount − discount) × rate / 100); lines without a code at the
                 customer's tax_rate — with neither coupons nor codes, round(subtotal × tax_rate / 100)

Money is never a float: DECIMAL columns are read as exact decimal TEXT and parsed into integers;
the usage quantity (DECIMAL(18,6)) arrives as Arrow decimal128 and becomes int64 × 10^6 exactly.
The heavy work (filtering and aggregating the usage of the period) is
int64 numpy/pandas; the per-line money step (a few hundred thousand lines) uses object arrays of
Python integers, because price × quantity × days × discount overflows int64.

Delayed charges are NOT swept: compare with a bill run made without `include_delayed_charges`.

Where the spec is silent, this reference decides (and the engine should agree):
  * a one_time line whose start is before the contract's start bills in the contract's first cycle;
  * a percentage line that is not a usage line has no usage rows (its fixed fee counts 0 rows).

Run alone (the benchmark runs it in a subprocess so its memory is measured apart):
    python benchmarks/pandas_reference.py --db DB --period-date 2026-03-15 --out invoices.pkl
"""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

if __package__ in (None, ""):  # run as a script: make `engine` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.currencies import MINOR_UNITS  # noqa: E402

E6, E12, E18 = 10**6, 10**12, 10**18
INT64_MAX = 2**63 - 1
PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}
INVOICE_COLUMNS = [
    "contract_id",
    "currency",
    "period_start",
    "period_end",
    "subtotal_minor",
    "tax_minor",
    "total_minor",
    "discount_minor",
]


# --------------------------------------------------------------------------------------------- reading
def _text_sql(col: str) -> str:
    """A DECIMAL column as exact text (never through a float)."""
    return f"CAST({col} AS VARCHAR) AS {col}"


def _scaled(text: pd.Series, scale: int) -> np.ndarray:
    """Exact decimal text -> object array of Python ints × 10^scale (None where the cell is NULL).

    Vectorized string work: split at the point, pad the fraction to `scale` digits, join the digits;
    the digit strings become int64 when they fit (always, for quantities), else Python ints."""
    out = np.full(len(text), None, dtype=object)
    valid = text.notna().to_numpy()
    if not valid.any():
        return out
    s = text[valid].astype(str).str.strip()
    neg = s.str.startswith("-").to_numpy()
    body = s.str.lstrip("+-")
    parts = body.str.partition(".")
    frac = parts[2].str.rstrip("0")
    if (frac.str.len() > scale).any():
        raise ValueError(f"more than {scale} decimals in {s[frac.str.len() > scale].iloc[0]!r}")
    digits = parts[0].where(parts[0] != "", "0") + frac.str.pad(scale, side="right", fillchar="0")
    digits = digits.str.lstrip("0").replace("", "0")
    if (digits.str.len() <= 18).all():
        mag = digits.astype("int64").to_numpy().astype(object)
    else:
        mag = np.array([int(d) for d in digits.to_numpy()], dtype=object)
    out[valid] = np.where(neg, -mag, mag)
    return out


def _days(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A DATE column -> (int64 days since 1970-01-01, null mask)."""
    null = series.isna().to_numpy()
    values = series.to_numpy(dtype="datetime64[us]").astype("datetime64[D]").astype("int64")
    values[null] = 0
    return values, null


def _month_index(days: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of a day number."""
    return days.astype("datetime64[D]").astype("datetime64[M]").astype("int64")


def _month_first(months: np.ndarray) -> np.ndarray:
    return months.astype("datetime64[M]").astype("datetime64[D]").astype("int64")


# --------------------------------------------------------------------------------------------- rounding
def _round_half_away(num: np.ndarray, den: np.ndarray | int) -> np.ndarray:
    """round(num / den) to the nearest integer, halves away from zero; den > 0; object arrays of ints."""
    num = np.asarray(num, dtype=object)
    mag = (2 * np.abs(num) + den) // (2 * den)
    return np.where(num < 0, -mag, mag)


# --------------------------------------------------------------------------------------------- cycles
def _cycles(contracts: pd.DataFrame, period_date: dt.date) -> pd.DataFrame:
    """The cycle containing `period_date` of every contract active on it (spec section 2)."""
    d = int(np.datetime64(period_date, "D").astype("int64"))
    start, _ = _days(contracts["start_date"])
    end, open_ended = _days(contracts["end_date"])
    active = (start <= d) & (open_ended | (end >= d))
    c = contracts[active].reset_index(drop=True)
    start, end, open_ended = start[active], end[active], open_ended[active]
    step = c["billing_period"].map(PERIOD_MONTHS).to_numpy(dtype="int64")
    anchor = c["billing_cycle_start_day"].to_numpy(dtype="int64")
    m0 = _month_index(start)
    k = _cycle_of(m0, step, anchor, np.full_like(start, d))
    b0, b1 = _boundary(m0, step, anchor, k), _boundary(m0, step, anchor, k + 1)
    c["ps"] = np.maximum(b0, start)
    c["pe"] = np.where(open_ended, b1 - 1, np.minimum(b1 - 1, end))
    c["period_days"] = b1 - b0
    c["c_start"] = start
    c["k"], c["m0"], c["step"], c["anchor"] = k, m0, step, anchor
    return c


def _boundary(m0: np.ndarray, step: np.ndarray, anchor: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Day number of boundary k: day min(anchor, month end) of month m0 + k·step."""
    m = m0 + k * step
    first = _month_first(m)
    month_days = _month_first(m + 1) - first
    return first + np.minimum(anchor, month_days) - 1


def _cycle_of(m0: np.ndarray, step: np.ndarray, anchor: np.ndarray, day: np.ndarray) -> np.ndarray:
    """k of the cycle holding `day` (a day number): the largest k with boundary(k) ≤ day."""
    k = (_month_index(day) - m0) // step
    return np.where(_boundary(m0, step, anchor, k) > day, k - 1, k)


# --------------------------------------------------------------------------------------------- main
def _read(con, sql: str) -> pd.DataFrame:
    """A query's rows as a DataFrame, through Arrow (pandas 3 keeps the strings Arrow-backed)."""
    return con.sql(sql).to_arrow_table().to_pandas(date_as_object=False)


USAGE_BATCH_ROWS = 2_000_000  # usage is streamed in Arrow batches: memory stays bounded on 100M rows
_MILLION = pa.scalar(Decimal(10**6))


def _usage_aggregates(con, ul: pd.DataFrame, line_pos: np.ndarray):
    """sum / max / count of the quantity (int64 × 10^6) of APPROVED usage rows of each usage line's
    contract and metric dated in its window [ws, we]. Returns (line positions, sums, maxes, counts).

    Only the outer date range of all windows is pushed into the read (as a Parquet filter would be);
    status, contract, metric and each line's own window are decided here, vectorized, one Arrow batch
    at a time; the batches' partial aggregates are then combined."""
    lo, hi = (np.datetime64(int(v), "D") for v in (ul["ws"].min(), ul["we"].max()))
    reader = con.sql(f"""SELECT contract_id, metric, usage_date, quantity, status FROM usage
                         WHERE usage_date BETWEEN DATE '{lo}' AND DATE '{hi}'""")
    reader = reader.to_arrow_reader(USAGE_BATCH_ROWS)
    # integer codes of (contract, metric): positions in the usage lines' own sets (-1 = not billed here)
    contracts = pd.unique(ul["contract_id"].to_numpy())
    metrics = pd.unique(ul["metric"].to_numpy())
    contract_set, metric_set, nm = pa.array(contracts), pa.array(metrics), len(metrics)
    l_key = pd.Index(
        pd.Index(contracts).get_indexer(ul["contract_id"]).astype("int64") * nm
        + pd.Index(metrics).get_indexer(ul["metric"])
    )
    ws, we = ul["ws"].to_numpy(), ul["we"].to_numpy()
    unique = l_key.is_unique
    parts = []
    for batch in _chunks(reader, USAGE_BATCH_ROWS):
        u_c = pc.fill_null(pc.index_in(batch["contract_id"], value_set=contract_set), -1).to_numpy()
        u_m = pc.fill_null(pc.index_in(batch["metric"], value_set=metric_set), -1).to_numpy()
        approved = pc.equal(batch["status"], "approved").to_numpy(zero_copy_only=False)
        keep = approved & (u_c >= 0) & (u_m >= 0)
        u_key = u_c[keep].astype("int64") * nm + u_m[keep]
        u_day = batch["usage_date"].cast(pa.int32()).to_numpy()[keep]
        # DECIMAL(18,6) arrives as Arrow decimal128: × 10^6 and cast to int64 is exact (Arrow refuses a loss)
        u_qn = pc.cast(pc.multiply(batch["quantity"], _MILLION), pa.int64()).to_numpy()[keep]
        if unique:  # one usage line per (contract, metric): a hash lookup
            at = l_key.get_indexer(u_key)
            hit = at >= 0
            at, u_day, u_qn = at[hit], u_day[hit], u_qn[hit]
        else:  # several lines share a (contract, metric): each row goes to each of them
            j = pd.DataFrame({"key": u_key, "row": np.arange(len(u_key))}).merge(
                pd.DataFrame({"key": l_key, "at": np.arange(len(l_key))}), on="key"
            )
            at, u_day, u_qn = j["at"].to_numpy(), u_day[j["row"].to_numpy()], u_qn[j["row"].to_numpy()]
        inside = (u_day >= ws[at]) & (u_day <= we[at])
        parts.append(_aggregate(at[inside], u_qn[inside]))
    agg = pd.concat(parts) if parts else _aggregate(np.zeros(0, "int64"), np.zeros(0, "int64"))
    if len(parts) > 1:
        exact = any(p["sum"].dtype == object for p in parts)
        bound = int(max(agg["max"].abs().max(), agg["min"].abs().max())) * int(agg["count"].max() or 0)
        sums = agg["sum"].astype(object) if exact or bound > INT64_MAX else agg["sum"]
        agg = pd.DataFrame(
            {
                "sum": sums.groupby(level=0).sum(),
                "max": agg["max"].groupby(level=0).max(),
                "count": agg["count"].groupby(level=0).sum(),
            }
        )
    at = agg.index.to_numpy()
    return (
        line_pos[at],
        agg["sum"].to_numpy().astype(object),
        agg["max"].to_numpy().astype(object),
        agg["count"].to_numpy(),
    )


def _chunks(reader, rows: int):
    """The reader's record batches regrouped into tables of at least `rows` rows (DuckDB hands out small
    batches; each chunk pays the set lookups' setup once)."""
    pending, n = [], 0
    for batch in reader:
        pending.append(batch)
        n += batch.num_rows
        if n >= rows:
            yield pa.Table.from_batches(pending)
            pending, n = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def _aggregate(at: np.ndarray, qn: np.ndarray) -> pd.DataFrame:
    """sum, max, min, count of int64 `qn` by `at`; the sum in Python integers if int64 could wrap."""
    rows = pd.DataFrame({"at": at, "qn": qn})
    agg = rows.groupby("at", sort=False)["qn"].agg(["sum", "max", "min", "count"])
    if len(agg) and (int(max(agg["max"].abs().max(), agg["min"].abs().max())) * int(agg["count"].max()) > INT64_MAX):
        agg["sum"] = rows.astype({"qn": object}).groupby("at", sort=False)["qn"].sum()
    return agg


def reference_lines(con, period_date: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(invoices, lines) of the bill run for the period of `period_date`; amounts in minor units."""
    contracts = _read(
        con,
        f"""SELECT contract_id, customer_id, start_date, end_date, billing_period,
                                      billing_cycle_start_day, proration, currency,
                                      {_text_sql("minimum_commitment")} FROM contracts""",
    )
    customers = _read(con, f"SELECT customer_id, {_text_sql('tax_rate')}, tax_codes FROM customers")
    c = _cycles(contracts, period_date)
    c = c.merge(customers, on="customer_id", how="left", validate="many_to_one")
    c["exp"] = c["currency"].map(MINOR_UNITS)
    if c["exp"].isna().any():
        raise ValueError(f"unknown currency {c.loc[c['exp'].isna(), 'currency'].iloc[0]!r}")
    c["exp"] = c["exp"].astype("int64")
    c["cidx"] = np.arange(len(c))

    # ---- order lines active in each target cycle
    lines = _read(
        con,
        f"""SELECT line_id, contract_id, product, tax_codes, kind, pricing_model, metric, aggregation,
                                  {_text_sql("unit_price")}, {_text_sql("quantity")},
                                  {_text_sql("package_size")},
                                  {_text_sql("free_units")}, {_text_sql("percentage_rate")},
                                  {_text_sql("fixed_fee")}, {_text_sql("discount_percent")},
                                  start_date, end_date FROM order_lines""",
    )
    lines = lines.merge(
        c[["contract_id", "cidx", "ps", "pe", "period_days", "proration", "c_start", "exp"]],
        on="contract_id",
        how="inner",
    )
    ls, ls_null = _days(lines["start_date"])
    le, le_null = _days(lines["end_date"])
    ps, pe = lines["ps"].to_numpy(), lines["pe"].to_numpy()
    one_time = (lines["kind"] == "one_time").to_numpy()
    ws = np.where(ls_null, ps, np.maximum(ps, ls))
    we = np.where(le_null, pe, np.minimum(pe, le))
    one_start = np.maximum(np.where(ls_null, lines["c_start"].to_numpy(), ls), lines["c_start"].to_numpy())
    keep = np.where(one_time, (one_start >= ps) & (one_start <= pe), ws <= we)
    lines["ws"], lines["we"] = np.where(one_time, ps, ws), np.where(one_time, pe, we)
    lines = lines[keep].drop(columns=["start_date", "end_date"]).reset_index(drop=True)
    n = len(lines)

    # ---- usage: approved rows in each usage line's window (int64 throughout)
    usage_mask = (lines["kind"] == "usage").to_numpy()
    q_sum = np.zeros(n, dtype=object)
    q_max = np.zeros(n, dtype=object)
    n_rows = np.zeros(n, dtype="int64")
    if usage_mask.any():
        usage_lines = lines.loc[usage_mask, ["contract_id", "metric", "ws", "we"]]
        li, sums, maxes, counts = _usage_aggregates(con, usage_lines, np.flatnonzero(usage_mask))
        q_sum[li], q_max[li], n_rows[li] = sums, maxes, counts

    # ---- priced quantity (× 10^6)
    kind = lines["kind"].to_numpy()
    aggregation = lines["aggregation"].fillna("sum").to_numpy()
    qn = _scaled(lines["quantity"], 6)
    um, agg_of = usage_mask, aggregation[usage_mask]
    qn[um] = np.where(
        agg_of == "count", n_rows[um].astype(object) * E6, np.where(agg_of == "max", q_max[um], q_sum[um])
    )
    qn = np.where(qn == None, 1 * E6, qn)  # noqa: E711  (quantity defaults to 1)
    rows_counted = np.where(usage_mask, n_rows, 0).astype(object)

    # ---- price(q) as an exact integer numerator over 10^18 × extra
    model = lines["pricing_model"].to_numpy()
    upn = _scaled(lines["unit_price"], 12)
    price = np.zeros(n, dtype=object)
    extra = np.ones(n, dtype=object)
    m = np.isin(model, ["flat", "per_unit"])
    price[m] = qn[m] * upn[m]
    m = model == "package"
    if m.any():
        free = _scaled(lines["free_units"], 6)[m]
        free = np.where(free == None, 0, free)  # noqa: E711
        size = _scaled(lines["package_size"], 6)[m]
        chargeable = np.maximum(qn[m] - free, 0)
        packages = -((-chargeable) // size)
        price[m] = packages * upn[m] * E6
    m = model == "percentage"
    if m.any():
        rate = _scaled(lines["percentage_rate"], 12)[m]
        fee = _scaled(lines["fixed_fee"], 12)[m]
        fee = np.where(fee == None, 0, fee)  # noqa: E711
        price[m] = qn[m] * rate + fee * E6 * rows_counted[m] * 100
        extra[m] = 100
    tiered = np.isin(model, ["graduated", "volume"])
    if tiered.any():
        price[tiered] = _tier_prices(con, lines.loc[tiered, "line_id"], qn[tiered], model[tiered])

    # ---- line amount, rounded once
    prorated = (kind == "recurring") & (lines["proration"].to_numpy() == "actual")
    days = np.where(prorated, lines["we"].to_numpy() - lines["ws"].to_numpy() + 1, 1).astype(object)
    pdays = np.where(prorated, lines["period_days"].to_numpy(), 1).astype(object)
    dn = _scaled(lines["discount_percent"], 6)
    dn = np.where(dn == None, 0, dn)  # noqa: E711
    pow10 = 10 ** lines["exp"].to_numpy().astype(object)
    amount = _round_half_away(price * days * (100 * E6 - dn) * pow10, E18 * extra * pdays * 100 * E6)
    lines["q_n"] = qn
    lines["usage_rows"] = rows_counted
    lines["amount_minor"] = amount

    # ---- invoices: Σ lines, minimum-commitment true-up, tax
    line_sum = _group_sum(lines["cidx"].to_numpy(), amount, len(c))
    n_lines = np.bincount(lines["cidx"].to_numpy(), minlength=len(c))
    mc = _scaled(c["minimum_commitment"], 12)
    has_min = mc != None  # noqa: E711
    true_up = np.zeros(len(c), dtype=object)
    if has_min.any():
        actual = c["proration"].to_numpy() == "actual"
        cdays = np.where(actual, c["pe"].to_numpy() - c["ps"].to_numpy() + 1, c["period_days"].to_numpy())
        pow10c = 10 ** c["exp"].to_numpy()[has_min].astype(object)
        committed = _round_half_away(
            mc[has_min] * cdays[has_min].astype(object) * pow10c,
            E12 * c["period_days"].to_numpy()[has_min].astype(object),
        )
        true_up[has_min] = np.maximum(committed - line_sum[has_min], 0)
    subtotal = line_sum + true_up
    line_discount = _coupon_discounts(con, c, lines)
    discount = _group_sum(lines["cidx"].to_numpy(), line_discount, len(c))
    tax = _taxes(con, c, lines, line_discount, true_up, has_min)
    lines["discount_minor"] = line_discount
    billed = (n_lines > 0) | has_min
    to_date = lambda v: pd.to_datetime(v, unit="D")  # noqa: E731
    invoices = (
        pd.DataFrame(
            {
                "contract_id": c["contract_id"],
                "currency": c["currency"],
                "period_start": to_date(c["ps"].to_numpy()),
                "period_end": to_date(c["pe"].to_numpy()),
                "subtotal_minor": _as_int64(subtotal),
                "tax_minor": _as_int64(tax),
                "total_minor": _as_int64(subtotal - discount + tax),
                "discount_minor": _as_int64(discount),
                "n_lines": n_lines + has_min.astype("int64"),
                "true_up_minor": _as_int64(true_up),
            }
        )[billed]
        .sort_values("contract_id")
        .reset_index(drop=True)
    )
    return invoices, lines


# ------------------------------------------------------------------------------------ coupons and taxes (§11)
def _coupon_uses(con, c: pd.DataFrame) -> pd.DataFrame:
    """The applied coupons that cover each invoice: cidx, coupon, its face (minor units) or percent (× 10^6),
    products (a set, or None), and `position`, the order in which it applies."""
    applied = _read(
        con,
        f"""SELECT a.contract_id, a.coupon_id, a.applied_on, cp.kind, {_text_sql("amount")},
                   cp.currency AS coupon_currency, {_text_sql("percent")}, cp.frequency, cp.periods, cp.products
            FROM applied_coupons a JOIN coupons cp USING (coupon_id)""",
    )
    cols = ["contract_id", "cidx", "ps", "c_start", "k", "m0", "step", "anchor", "currency", "exp"]
    u = applied.merge(c[cols], on="contract_id", how="inner")
    if u.empty:
        return u
    on, _ = _days(u["applied_on"])
    m0, step, anchor, start = (u[x].to_numpy() for x in ("m0", "step", "anchor", "c_start"))
    # the cycles starting on or after applied_on: the first is the one holding `since` if it starts on it
    since = np.maximum(on, start)
    k_since = _cycle_of(m0, step, anchor, since)
    starts_on = np.maximum(_boundary(m0, step, anchor, k_since), start) >= since
    first = np.where(starts_on, k_since, k_since + 1)
    n = u["k"].to_numpy() - first + 1
    freq = u["frequency"].to_numpy()
    periods = u["periods"].fillna(0).to_numpy(dtype="int64")
    covered = (on <= u["ps"].to_numpy()) & (
        (freq == "forever") | ((freq == "once") & (n == 1)) | ((freq == "recurring") & (n <= periods))
    )
    covered &= (u["kind"] != "fixed").to_numpy() | (u["coupon_currency"] == u["currency"]).to_numpy()
    u = u[covered].reset_index(drop=True)
    fixed = (u["kind"] == "fixed").to_numpy()
    amount = _scaled(u["amount"], 12)
    face = np.zeros(len(u), dtype=object)
    if fixed.any():
        face[fixed] = _round_half_away(amount[fixed] * (10 ** u["exp"].to_numpy()[fixed]).astype(object), E12)
    u["face"] = face
    u["percent_n"] = _scaled(u["percent"], 6)
    u["limited"] = u["products"].notna()
    u = u.sort_values(["cidx", "limited", "applied_on", "coupon_id"], ascending=[True, False, True, True])
    u["position"] = u.groupby("cidx").cumcount() + 1
    return u.reset_index(drop=True)


def _coupon_discounts(con, c: pd.DataFrame, lines: pd.DataFrame) -> np.ndarray:
    """Each order line's discount (minor units): the coupons of its invoice one position after another."""
    discount = np.zeros(len(lines), dtype=object)
    uses = _coupon_uses(con, c)
    if uses.empty:
        return discount
    order_lines = lines[["cidx", "line_id", "product"]].assign(row=np.arange(len(lines)))
    amount = lines["amount_minor"].to_numpy()
    for position in range(1, int(uses["position"].max()) + 1):
        now = uses[uses["position"] == position]
        parts = [now[~now["limited"]].merge(order_lines, on="cidx")]
        limited = now[now["limited"]]
        if len(limited):  # a limited coupon's lines: those of its products
            products = limited.assign(product=limited["products"].str.split(";")).explode("product")
            parts.append(products.merge(order_lines, on=["cidx", "product"]))
        eligible = pd.concat(parts, ignore_index=True)
        if eligible.empty:
            continue
        row = eligible["row"].to_numpy()
        left = np.maximum(amount[row] - discount[row], 0).astype(object)
        cidx = eligible["cidx"].to_numpy()
        base = _group_sum(cidx, left, len(c))[cidx]
        fixed = (eligible["kind"] == "fixed").to_numpy()
        pct = _round_half_away(base * np.where(fixed, 0, eligible["percent_n"].to_numpy()), 10**8)
        coupon = np.where(fixed, np.minimum(eligible["face"].to_numpy(), base), pct)
        safe = np.where(base == 0, 1, base)
        whole = np.where(base == 0, 0, (coupon * left) // safe)
        rest = np.where(base == 0, 0, (coupon * left) % safe)
        leftover = (coupon - _group_sum(cidx, whole, len(c))[cidx]).astype("int64")
        # the left-over units go to the largest remainders (each < the invoice's base: int64), ties to the
        # smaller line_id
        ranked = pd.DataFrame({"cidx": cidx, "rest": -rest.astype("int64"), "line_id": eligible["line_id"]})
        ranked = ranked.sort_values(["cidx", "rest", "line_id"])
        rank = np.empty(len(ranked), dtype="int64")
        rank[ranked.index.to_numpy()] = ranked.groupby("cidx").cumcount().to_numpy() + 1
        share = whole + (rank <= leftover).astype("int64")
        np.add.at(discount, row, share)
    return discount


def _taxes(con, c: pd.DataFrame, lines: pd.DataFrame, discount: np.ndarray, true_up, has_min) -> np.ndarray:
    """Tax per invoice: per tax code, round(Σ (amount − discount) of its lines × rate / 100); lines without a
    code (their customer has the single tax_rate) at that rate."""
    customer_codes = c["tax_codes"].to_numpy()
    own = lines["tax_codes"].to_numpy()
    cidx = lines["cidx"].to_numpy()
    codes = np.where(pd.isna(own), customer_codes[cidx], own)
    net = pd.DataFrame({"cidx": cidx, "codes": codes, "net": lines["amount_minor"].to_numpy() - discount})
    ups = np.flatnonzero(has_min)
    net = pd.concat(
        [net, pd.DataFrame({"cidx": ups, "codes": customer_codes[ups], "net": true_up[ups]})], ignore_index=True
    )
    net["codes"] = net["codes"].astype(object).where(net["codes"].notna(), "")  # '' = the customer's tax_rate
    net = net.groupby(["cidx", "codes"], sort=False)["net"].sum().reset_index()
    tax = np.zeros(len(c), dtype=object)
    legacy = net[net["codes"] == ""]
    if len(legacy):
        at = legacy["cidx"].to_numpy()
        rate = _scaled(c["tax_rate"], 12)[at]
        rate = np.where(rate == None, 0, rate)  # noqa: E711
        np.add.at(tax, at, _round_half_away(legacy["net"].to_numpy().astype(object) * rate, 100 * E12))
    coded = net[(net["codes"] != "") & (net["codes"] != "none")]
    if len(coded):
        coded = coded.assign(tax_code=coded["codes"].str.split(";")).explode("tax_code")
        bases = coded.groupby(["cidx", "tax_code"], sort=False)["net"].sum().reset_index()
        rates = _read(con, f"SELECT tax_code, {_text_sql('rate')} FROM taxes")
        bases = bases.merge(rates, on="tax_code", how="inner")
        amounts = _round_half_away(bases["net"].to_numpy().astype(object) * _scaled(bases["rate"], 6), 100 * E6)
        np.add.at(tax, bases["cidx"].to_numpy(), amounts)
    return tax


def _tier_prices(con, line_ids: pd.Series, qn: np.ndarray, model: np.ndarray) -> np.ndarray:
    """Σ over the line's tiers, × 10^18: graduated every tier with q > lower, volume the tier holding q.

    Tiers are ordered by up_to (blank = unbounded, last); a tier covers (previous up_to, up_to]."""
    tiers = _read(
        con,
        f"SELECT line_id, {_text_sql('up_to')}, {_text_sql('unit_price')}, {_text_sql('flat_fee')} FROM price_tiers",
    )
    pos = pd.Index(line_ids.to_numpy()).get_indexer(tiers["line_id"])
    tiers = tiers[pos >= 0].assign(pos=pos[pos >= 0])
    up = _scaled(tiers["up_to"], 6)
    unbounded = up == None  # noqa: E711
    # order within a line by up_to, unbounded last: sort key (line, unbounded, up_to)
    tiers = tiers.assign(up=np.where(unbounded, 0, up), unbounded=unbounded)
    tiers = tiers.sort_values(["pos", "unbounded", "up"], kind="stable").reset_index(drop=True)
    p = tiers["pos"].to_numpy()
    up, unbounded = tiers["up"].to_numpy(dtype=object), tiers["unbounded"].to_numpy()
    first = np.r_[True, p[1:] != p[:-1]]
    lower = np.where(first, 0, np.r_[0, up[:-1]]).astype(object)
    q, mdl = qn[p], model[p]
    tp = _scaled(tiers["unit_price"], 12)
    ff = _scaled(tiers["flat_fee"], 12)
    ff = np.where(ff == None, 0, ff)  # noqa: E711
    above = q > lower
    contains = above & (unbounded | (q <= up))
    grad = mdl == "graduated"
    applies = np.where(grad, above, contains)
    top = np.where(unbounded, q, np.minimum(q, up))
    units = np.where(applies, np.where(grad, top - lower, q), 0).astype(object)
    amount = units * tp + np.where(applies, ff * E6, 0)
    return _group_sum(p, amount, len(qn))


def _group_sum(groups: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Exact Σ of `values` (ints) by group index 0..size-1, as an object array."""
    out = np.zeros(size, dtype=object)
    if len(values) == 0:
        return out
    values = np.asarray(values, dtype=object)
    if np.abs(values).max() * len(values) <= INT64_MAX:  # int64 cannot wrap: fast path
        sums = pd.Series(values.astype("int64")).groupby(groups).sum()
    else:
        sums = pd.Series(values).groupby(groups).sum()
    out[sums.index.to_numpy()] = sums.to_numpy().astype(object)
    return out


def _as_int64(values: np.ndarray) -> np.ndarray:
    """int64 when every value fits (an invoice's amounts are BIGINT in the store), else Python ints."""
    values = np.asarray(values, dtype=object)
    if len(values) == 0 or np.abs(values).max() <= INT64_MAX:
        return values.astype("int64")
    return values


def reference_invoices(con, period_date: dt.date) -> pd.DataFrame:
    """One row per invoice of a bill run for the period of `period_date` (no delayed charges):
    contract_id, currency, period_start, period_end, subtotal_minor, tax_minor, total_minor
    (+ n_lines: order lines and true-up; true_up_minor)."""
    return reference_lines(con, period_date)[0]


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json
    import time

    import duckdb

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--period-date", required=True, type=dt.date.fromisoformat)
    ap.add_argument("--out", required=True, help="pickle file of the invoices frame")
    args = ap.parse_args(argv)
    con = duckdb.connect(args.db, read_only=True)
    t0 = time.perf_counter()
    frame = reference_invoices(con, args.period_date)
    seconds = time.perf_counter() - t0
    frame.to_pickle(args.out)
    print(json.dumps({"pandas_s": round(seconds, 3), "invoices": len(frame), "peak_rss_mb": _peak_rss_mb()}))
    return 0


def _peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM belongs to the process image, so unlike ru_maxrss (which Linux keeps
    across exec) it does not include the RSS of the parent that started this script."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


if __name__ == "__main__":
    sys.exit(main())
