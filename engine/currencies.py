"""ISO 4217 currency codes and their minor units (number of decimals)."""

from __future__ import annotations

from .errors import ValidationError

_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS "
    "GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL "
    "MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK "
    "PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS "
    "TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
)

MINOR_UNITS: dict[str, int] = {
    **{c: 2 for c in _TWO.split()},
    **{c: 0 for c in _ZERO.split()},
    **{c: 3 for c in _THREE.split()},
    **{c: 4 for c in _FOUR.split()},
}

SYMBOLS = {"USD": "$", "CAD": "CA$", "AUD": "A$", "EUR": "€", "GBP": "£", "JPY": "¥", "KWD": "KD"}


def is_currency(code: str | None) -> bool:
    return code in MINOR_UNITS


def minor_units(code: str) -> int:
    """Decimals of a currency's minor unit (USD 2, JPY 0, KWD 3); unknown codes are an error."""
    try:
        return MINOR_UNITS[code]
    except KeyError:
        raise ValidationError(f"unknown currency {code!r}: not an ISO 4217 code") from None


# --- minor units as SQL: the one relation every query joins on a currency code ----------------------------
# code, exp (decimals), scale = 10^exp, and per_minor_S = 10^(S − exp): how many units of an amount scaled
# by 10^S make one minor unit (S = 12 for money columns, 18 for a price × quantity). The powers are
# Python integers bound as HUGEINT lists: DuckDB's ** would go through DOUBLE.
CURRENCY_UNITS_SQL = (
    "(SELECT unnest(?::VARCHAR[]) AS code, unnest(?::INTEGER[]) AS exp, unnest(?::HUGEINT[]) AS scale, "
    "unnest(?::HUGEINT[]) AS per_minor_12, unnest(?::HUGEINT[]) AS per_minor_18)"
)
CURRENCY_UNITS_TABLE = "_currency_units"


def currency_units_params() -> list[list]:
    """The bound parameters of CURRENCY_UNITS_SQL, in its column order."""
    codes = sorted(MINOR_UNITS)
    exps = [MINOR_UNITS[c] for c in codes]
    return [codes, exps, [10**e for e in exps], [10 ** (12 - e) for e in exps], [10 ** (18 - e) for e in exps]]


def currency_units_table(con) -> str:
    """Create CURRENCY_UNITS_SQL as a temp table of this connection (once) and return its name, for
    set-based SQL that joins it many times (rating, sweeps)."""
    con.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {CURRENCY_UNITS_TABLE} AS SELECT * FROM {CURRENCY_UNITS_SQL}",  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
        currency_units_params(),
    )
    return CURRENCY_UNITS_TABLE
