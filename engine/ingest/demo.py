"""Deterministic demo data: the six input CSV files (spec section 1), generated in DuckDB SQL.

Nothing here calls random(): every choice is `hash(seed, row number, salt)`, so the same seed and sizes
give byte-identical files, and 100,000 contracts with 10,000,000 usage rows take seconds. Choices the demo
must show (every pricing model, currency, period, anchors 29–31, …) ROTATE with the row number (offset by
the seed), so any handful of consecutive contracts covers all of them; amounts and dates are hashed.

Contract k follows one of eight profiles (`_LINE_TEMPLATES`): platform + seats + setup fee, graduated API
calls, volume storage, SMS packages, payment percentage, a price ramp with minimum commitment, consulting
hours with minimum commitment, an annual license. Prices are written in US dollars and converted at fixed
rates into the contract's currency (its customer's, or for one contract in twelve a second currency), in
integer micro-units (1e-6 of a major unit), so no float is ever used.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

from ..progress import Progress, within
from ..schema import INPUT_TABLES
from .importer import import_folder

USAGE_ROWS_PER_CONTRACT = 100

_MACROS = """
-- 0..n-1, hashed from the seed, the row number and a salt naming the field.
-- (hash() is UBIGINT: modulo a UBIGINT stays 64-bit; modulo a BIGINT would be HUGEINT, 30x slower.)
CREATE MACRO rnd(k, salt, n) AS (hash(getvariable('demo_seed'), k, salt) % n::UBIGINT)::BIGINT;
-- 0..n-1 in turn: any n consecutive rows cover every value; the seed shifts where the turn starts.
CREATE MACRO rot(k, salt, n) AS
    ((k % n + hash(getvariable('demo_seed'), salt) % n::UBIGINT) % n::UBIGINT)::BIGINT;
CREATE MACRO profile_of(k) AS rot(k, 10, 8);
CREATE MACRO contract_start(k) AS DATE '2025-01-01' + rnd(k, 11, 669)::INTEGER;  -- 2025-01-01 .. 2026-10-31
-- One contract in five ends after whole cycles' worth of months, one in five on an arbitrary day (mid-cycle).
CREATE MACRO contract_end(k) AS CASE rot(k, 16, 5)
    WHEN 0 THEN (contract_start(k) + to_months(6 + rnd(k, 18, 13)::INTEGER))::DATE - 1
    WHEN 1 THEN contract_start(k) + (90 + rnd(k, 17, 300))::INTEGER END;
-- Fixed demo exchange rates, per mille of one US dollar.
CREATE MACRO fx_milli(cur) AS CASE cur WHEN 'USD' THEN 1000 WHEN 'CAD' THEN 1350 WHEN 'AUD' THEN 1500
    WHEN 'EUR' THEN 920 WHEN 'GBP' THEN 790 WHEN 'JPY' THEN 150000 END;
CREATE MACRO decimals_of(cur) AS CASE cur WHEN 'JPY' THEN 0 ELSE 2 END;
CREATE MACRO local_micros(usd_micros, cur) AS usd_micros::BIGINT * fx_milli(cur) // 1000;
-- Rounded down to the currency's minor unit (cents; whole yen).
CREATE MACRO minor_step(cur) AS (10 ** (6 - decimals_of(cur)))::BIGINT;
CREATE MACRO minor_micros(usd_micros, cur) AS
    local_micros(usd_micros, cur) // minor_step(cur) * minor_step(cur);
-- Micro-units as a decimal string in major units with at least the currency's decimals: 99.00, 0.0015, 14850.
CREATE MACRO frac_text(micros) AS rtrim(lpad((micros % 1000000)::VARCHAR, 6, '0'), '0');
CREATE MACRO money(micros, cur) AS (micros // 1000000)::VARCHAR || CASE
    WHEN frac_text(micros) = '' AND decimals_of(cur) = 0 THEN ''
    WHEN length(frac_text(micros)) >= decimals_of(cur) THEN '.' || frac_text(micros)
    ELSE '.' || rpad(frac_text(micros), decimals_of(cur), '0') END;
"""

# The order lines of each profile (contract k has profile `profile_of(k)`), prices in US micro-dollars.
# price: cycle = per billing cycle (the monthly price times the period's months) in whole minor units;
# whole = in whole minor units; unit = a unit price kept to the micro-unit (0.0015). quantity: one, or
# seats (3..50). ramp 1/2: the same product, the step-up price from the seventh month.


def _line(
    profile,
    slot,
    product,
    kind,
    model,
    description,
    usd_micros,
    price="cycle",
    quantity="one",
    metric=None,
    aggregation=None,
    discounted=False,
    ramp=None,
) -> tuple:
    return (
        profile,
        slot,
        product,
        kind,
        model,
        description,
        usd_micros,
        price,
        quantity,
        metric,
        aggregation,
        discounted,
        ramp,
    )


def _usage_line(profile, slot, product, model, description, usd_micros, price, metric, aggregation) -> tuple:
    return _line(profile, slot, product, "usage", model, description, usd_micros, price, None, metric, aggregation)


_LINE_TEMPLATES = [
    _line(0, 1, "Platform", "recurring", "flat", "Platform fee", 99_000000),
    _line(0, 2, "Seats", "recurring", "per_unit", "User seats", 12_500000, quantity="seats", discounted=True),
    _line(0, 3, "Onboarding", "one_time", "flat", "Onboarding and setup", 300_000000, price="whole"),
    _usage_line(0, 4, "API calls", "per_unit", "API calls", 1000, "unit", "api_calls", "sum"),
    _line(1, 1, "Platform", "recurring", "flat", "Platform fee", 49_000000),
    _usage_line(1, 2, "API calls", "graduated", "API calls, graduated", None, "unit", "api_calls", "sum"),
    _line(2, 1, "Platform", "recurring", "flat", "Platform fee", 149_000000),
    _usage_line(2, 2, "Storage", "volume", "Storage GB, volume", None, "unit", "storage_gb", "max"),
    _line(3, 1, "Support", "recurring", "flat", "Priority support", 25_000000),
    _usage_line(3, 2, "SMS", "package", "SMS, packs of 1000", 50_000000, "whole", "sms", "sum"),
    _line(4, 1, "Platform", "recurring", "flat", "Platform fee", 29_000000),
    _usage_line(4, 2, "Payments", "percentage", "Payment processing", None, "unit", "payments", "sum"),
    _line(5, 1, "Platform", "recurring", "flat", "Platform fee", 199_000000, ramp=1),
    _line(5, 2, "Platform", "recurring", "flat", "Platform fee", 239_000000, ramp=2),
    _usage_line(5, 3, "Events", "per_unit", "Tracked events", 50000, "unit", "events", "count"),
    _line(6, 1, "Seats", "recurring", "per_unit", "Consultant seats", 20_000000, quantity="seats", discounted=True),
    _usage_line(6, 2, "Consulting", "per_unit", "Consulting hours", 150_000000, "whole", "hours", "sum"),
    _line(7, 1, "License", "recurring", "flat", "Annual license", 200_000000, discounted=True),
    _line(7, 2, "Setup", "one_time", "flat", "Implementation", 1500_000000, price="whole"),
    _usage_line(7, 3, "Storage", "per_unit", "Storage overage GB", 50000, "unit", "storage_gb", "max"),
]
# Tiers of the tiered models, in US micro-dollars: API calls graduated, storage priced by volume.
_TIER_TEMPLATES = [
    # pricing_model, tier, up_to, usd_micros, flat_fee_usd_micros
    ("graduated", 1, "10000", 2000, 0),
    ("graduated", 2, "100000", 1500, 5_000000),
    ("graduated", 3, None, 1000, 0),
    ("volume", 1, "1000", 20000, 0),
    ("volume", 2, "10000", 15000, 0),
    ("volume", 3, None, 10000, 0),
]
_TEMPLATE_TABLES = """
CREATE TABLE templates (profile INTEGER, slot INTEGER, product VARCHAR, kind VARCHAR, pricing_model VARCHAR,
    description VARCHAR, usd_micros BIGINT, price_mode VARCHAR, qty_mode VARCHAR, metric VARCHAR,
    aggregation VARCHAR, discounted BOOLEAN, ramp INTEGER);
CREATE TABLE tier_templates (pricing_model VARCHAR, tier INTEGER, up_to VARCHAR, usd_micros BIGINT,
    flat_fee_usd_micros BIGINT);
"""

_CUSTOMERS = """
CREATE TABLE customers AS
WITH base AS (
  SELECT c,
    -- USD 30 %, EUR 20 %, CAD 20 %, GBP, AUD and JPY 10 % each; every ten customers hold all six.
    (['USD', 'EUR', 'GBP', 'CAD', 'AUD', 'JPY', 'USD', 'USD', 'EUR', 'CAD'])[1 + rot(c, 3, 10)] AS currency,
    (['Acme', 'Boreal', 'Kite', 'Nimbus', 'Orchid', 'Pioneer', 'Quartz', 'Summit', 'Tidal', 'Vertex',
      'Willow', 'Zephyr'])[1 + rnd(c, 1, 12)] AS brand,
    (['Analytics', 'Freight', 'Robotics', 'Health', 'Logistics', 'Media', 'Foods', 'Energy', 'Labs',
      'Retail'])[1 + rnd(c, 2, 10)] AS trade,
    (['biz-north', 'biz-north', 'biz-south'])[1 + rot(c, 4, 3)] AS business_id
  FROM range(1, getvariable('demo_customers') + 1) r(c)),
-- none: the single tax_rate of spec section 3 only; demo: biz-north's customers have tax codes (one in ten
-- none: exempt), biz-south's keep a tax_rate; every: every customer has tax codes
taxed AS (
  SELECT *,
    getvariable('demo_adjustments') = 2 OR (getvariable('demo_adjustments') = 1 AND business_id = 'biz-north')
      AS with_codes,
    getvariable('demo_adjustments') = 1 AND rot(c, 6, 10) = 0 AS exempt
  FROM base)
SELECT c, printf('CUS-%06d', c) AS customer_id,
  brand || ' ' || trade || CASE currency WHEN 'JPY' THEN ' KK' WHEN 'GBP' THEN ' Ltd' WHEN 'EUR' THEN ' GmbH'
    WHEN 'AUD' THEN ' Pty Ltd' ELSE ' Inc.' END AS name,
  business_id,
  'billing@' || lower(brand) || '-' || c || '.example' AS email,
  currency,
  CASE WHEN NOT with_codes THEN CASE currency
    WHEN 'USD' THEN (['8.25', '0', '7.25', '10'])[1 + rnd(c, 5, 4)]
    WHEN 'CAD' THEN (['13', '5', '0'])[1 + rnd(c, 5, 3)]
    WHEN 'AUD' THEN (['10', '0'])[1 + rnd(c, 5, 2)]
    WHEN 'EUR' THEN (['20', '19', '0'])[1 + rnd(c, 5, 3)]
    WHEN 'GBP' THEN (['20', '0'])[1 + rnd(c, 5, 2)]
    ELSE '10' END END AS tax_rate,
  -- Tax codes (spec section 11) of the customer's business: US state + city sales tax (or the state's alone),
  -- Canadian GST + PST, VAT, …
  CASE WHEN with_codes AND NOT exempt THEN
    array_to_string(list_transform(CASE currency
        WHEN 'USD' THEN CASE WHEN rnd(c, 7, 3) = 0 THEN ['US-STATE'] ELSE ['US-CITY', 'US-STATE'] END
        WHEN 'CAD' THEN ['CA-GST', 'CA-PST'] WHEN 'AUD' THEN ['AU-GST'] WHEN 'EUR' THEN ['EU-VAT']
        WHEN 'GBP' THEN ['UK-VAT'] ELSE ['JP-CT'] END, lambda code: tax_prefix(business_id) || code), ';')
    END AS tax_codes
FROM taxed;
"""

# Taxes of each business (spec section 11): codes prefixed N- / S- (a code belongs to one business).
_TAX_TEMPLATES = [
    ("US-STATE", "State sales tax", "6.25"),
    ("US-CITY", "City sales tax", "2.375"),
    ("CA-GST", "GST", "5"),
    ("CA-PST", "PST", "7"),
    ("AU-GST", "GST", "10"),
    ("EU-VAT", "VAT", "19"),
    ("UK-VAT", "VAT", "20"),
    ("JP-CT", "Consumption tax", "10"),
]
# Coupons of each business (ids prefixed N- / S-), amounts in US micro-dollars converted into each currency the
# business's contracts bill in: kind, frequency, periods, products. A product-limited coupon exists only where
# the business sells the product.
_COUPON_TEMPLATES = [
    # code, name, kind, usd_micros or percent, frequency, periods, products
    ("WELCOME", "Welcome 10 %", "percentage", "10", "once", None, None),
    ("LOYAL", "Loyalty 5 %", "percentage", "5", "forever", None, None),
    ("API-HALF", "API calls half price", "percentage", "50", "recurring", 3, "API calls"),
    ("SEATS", "Seats credit", "fixed", "20000000", "recurring", 6, "Seats"),
    ("CREDIT", "Sign-up credit", "fixed", "25000000", "once", None, None),
    ("MONTHLY", "Partner credit", "fixed", "5000000", "forever", None, None),
]
_ADJUSTMENTS = """
CREATE MACRO tax_prefix(business) AS CASE business WHEN 'biz-north' THEN 'N-' ELSE 'S-' END;
CREATE TABLE tax_templates (code VARCHAR, name VARCHAR, rate VARCHAR);
CREATE TABLE coupon_templates (code VARCHAR, name VARCHAR, kind VARCHAR, value VARCHAR, frequency VARCHAR,
    periods INTEGER, products VARCHAR);
"""
_TAXES = """
CREATE TABLE taxes AS
SELECT b.business_id, tax_prefix(b.business_id) || t.code AS tax_code, t.name, t.rate
FROM (SELECT DISTINCT business_id FROM customers WHERE tax_codes IS NOT NULL) b, tax_templates t;
"""
_COUPONS = """
CREATE TABLE coupons AS
WITH sold AS (  -- what each business sells, in which currencies
  SELECT DISTINCT cu.business_id, k.currency_code, l.product
  FROM order_lines l JOIN contracts k ON k.k = l.k JOIN customers cu ON cu.c = k.c),
offers AS (
  SELECT DISTINCT s.business_id, t.*, CASE WHEN t.kind = 'fixed' THEN s.currency_code END AS currency
  FROM sold s JOIN coupon_templates t ON t.products IS NULL OR t.products = s.product)
SELECT business_id, currency,
  tax_prefix(business_id) || code || CASE WHEN currency IS NOT NULL THEN '-' || currency ELSE '' END AS coupon_id,
  name, kind,
  CASE WHEN kind = 'fixed' THEN money(minor_micros(value::BIGINT, currency), currency) END AS amount,
  CASE WHEN kind = 'percentage' THEN value END AS percent, frequency, periods, products, code
FROM offers;

-- Who gets which coupon. demo: one contract in four, one in twelve also a second; every: each contract the
-- loyalty and the partner credit from its start, and the product coupons its lines can take.
CREATE TABLE applied_coupons AS
WITH k AS (
  SELECT k.k, k.contract_id, k.start_date, k.currency_code, cu.business_id,
         list(DISTINCT l.product) AS products
  FROM contracts k JOIN customers cu ON cu.c = k.c JOIN order_lines l ON l.k = k.k GROUP BY ALL),
wanted AS (
  SELECT k.*, w.code, w.nth FROM k, LATERAL (
    SELECT unnest(CASE
      WHEN getvariable('demo_adjustments') = 2 THEN ['LOYAL', 'MONTHLY', 'API-HALF', 'SEATS']
      WHEN rot(k.k, 60, 4) <> 0 THEN []
      WHEN rot(k.k, 61, 3) = 0 THEN [getvariable('demo_coupon_codes')[1 + rot(k.k, 62, 6)], 'CREDIT']
      ELSE [getvariable('demo_coupon_codes')[1 + rot(k.k, 62, 6)]] END) AS code,
      unnest(range(1, 5)) AS nth) w)
SELECT DISTINCT w.k, w.nth, w.contract_id, c.coupon_id,
  CASE WHEN getvariable('demo_adjustments') = 2 THEN w.start_date
    ELSE w.start_date + rnd(w.k, 63 + w.nth, 150)::INTEGER END AS applied_on
FROM wanted w JOIN coupons c
  ON c.business_id = w.business_id AND c.code = w.code AND (c.currency IS NULL OR c.currency = w.currency_code)
 AND (c.products IS NULL OR list_contains(w.products, c.products));
"""

_CONTRACTS = """
CREATE TABLE contracts AS
WITH base AS (
  SELECT k, profile_of(k) AS profile,
    1 + (k - 1) * getvariable('demo_customers') // getvariable('demo_contracts') AS c,  -- one or two each
    contract_start(k) AS start_date, contract_end(k) AS end_date,
    CASE profile_of(k) WHEN 7 THEN 'year' WHEN 2 THEN 'quarter'
      ELSE (['month', 'month', 'quarter', 'month', 'month', 'year', 'month'])[1 + rot(k, 12, 7)] END
      AS billing_period,
    -- One contract in twelve is billed in another currency than its customer's (EUR, or USD for EUR
    -- customers): the currency of the demo's foreign delayed charges.
    rot(k, 24, 12) = 0 AS foreign_currency
  FROM range(1, getvariable('demo_contracts') + 1) r(k)),
priced AS (
  SELECT b.*, cu.customer_id, cu.currency AS customer_currency,
    CASE WHEN foreign_currency THEN CASE cu.currency WHEN 'EUR' THEN 'USD' ELSE 'EUR' END ELSE cu.currency END
      AS currency_code,
    CASE billing_period WHEN 'month' THEN 1 WHEN 'quarter' THEN 3 ELSE 12 END AS months
  FROM base b JOIN customers cu ON cu.c = b.c)
SELECT k, profile, c, customer_currency, currency_code, months,
  printf('K-%06d', k) AS contract_id, customer_id, start_date, end_date, billing_period,
  -- Mostly the 1st; 29, 30 and 31 clamp in short months; blank = the day of start_date.
  (['1', '1', '1', '15', '29', '30', '31', NULL, '1', '28'])[1 + rot(k, 13, 10)] AS billing_cycle_start_day,
  CASE WHEN profile = 7 THEN 'advance'
    ELSE (['arrears', 'arrears', 'advance', 'arrears'])[1 + rot(k, 14, 4)] END AS billing_timing,
  (['30', '30', '15', '45'])[1 + rot(k, 15, 4)] AS payment_terms_days,
  CASE WHEN profile IN (5, 6) THEN money(minor_micros(500000000::BIGINT * months, currency_code),
    currency_code) END AS minimum_commitment,
  -- Annual licenses bill whole periods; a few other contracts too.
  CASE WHEN profile = 7 OR rot(k, 19, 24) = 0 THEN 'none' ELSE 'actual' END AS proration,
  -- Blank = the customer's currency; every third contract names it anyway.
  CASE WHEN foreign_currency OR rot(k, 20, 3) = 0 THEN currency_code END AS currency
FROM priced;
"""

_ORDER_LINES = """
CREATE TABLE order_lines AS
SELECT k.k, t.slot, printf('L-%06d-%d', k.k, t.slot) AS line_id, k.contract_id, t.product, t.kind,
  t.pricing_model, t.description,
  CASE t.price_mode
    WHEN 'cycle' THEN money(minor_micros(t.usd_micros * k.months, k.currency_code), k.currency_code)
    WHEN 'whole' THEN money(minor_micros(t.usd_micros, k.currency_code), k.currency_code)
    ELSE money(local_micros(t.usd_micros, k.currency_code), k.currency_code) END AS unit_price,
  CASE t.qty_mode WHEN 'one' THEN '1' WHEN 'seats' THEN (3 + rnd(k.k, 21, 48))::VARCHAR END AS quantity,
  t.metric, t.aggregation,
  CASE WHEN t.pricing_model = 'package' THEN '1000' END AS package_size,
  CASE WHEN t.pricing_model = 'package' THEN '500' END AS free_units,
  CASE WHEN t.pricing_model = 'percentage' THEN (['2.9', '2.5', '3.4'])[1 + rnd(k.k, 23, 3)] END
    AS percentage_rate,
  CASE WHEN t.pricing_model = 'percentage' THEN money(minor_micros(300000, k.currency_code), k.currency_code)
    END AS fixed_fee,
  CASE WHEN t.discounted THEN ([NULL, '10', '15', '20'])[1 + rot(k.k, 22, 4)] END AS discount_percent,
  -- A price ramp: consecutive line windows, the step-up from the seventh month.
  CASE t.ramp WHEN 2 THEN (k.start_date + INTERVAL 6 MONTH)::DATE END AS start_date,
  CASE t.ramp WHEN 1 THEN (k.start_date + INTERVAL 6 MONTH)::DATE - 1 END AS end_date,
  -- setup and implementation fees are exempt where the customer has tax codes (the others: the customer's)
  CASE WHEN t.kind = 'one_time' AND cu.tax_codes IS NOT NULL THEN 'none' END AS tax_codes
FROM contracts k JOIN templates t ON t.profile = k.profile JOIN customers cu ON cu.c = k.c;

CREATE TABLE price_tiers AS
SELECT l.k, l.slot, tt.tier, l.line_id, tt.up_to,
  money(local_micros(tt.usd_micros, k.currency_code), k.currency_code) AS unit_price,
  money(minor_micros(tt.flat_fee_usd_micros, k.currency_code), k.currency_code) AS flat_fee
FROM order_lines l JOIN contracts k ON k.k = l.k JOIN tier_templates tt ON tt.pricing_model = l.pricing_model;
"""

# Usage row i belongs to contract (i mod contracts) + 1 and its profile's usage metric, dated inside the
# contract's life within 2025-12-01 .. 2026-11-30 (any day of that year if the contract ended before it).
# The per-contract part is computed once (usage_spans); the 10M-row side is a plain scan of range(), which
# DuckDB streams in row order through the join, so the file comes out in usage_id order without a sort.
_USAGE_SPANS = """
CREATE TABLE usage_spans AS
SELECT k, contract_id, getvariable('demo_metrics')[1 + profile] AS metric,
  CASE WHEN lo <= hi THEN lo ELSE DATE '2025-12-01' END AS lo,
  CASE WHEN lo <= hi THEN hi - lo + 1 ELSE 365 END AS days
FROM (SELECT k, contract_id, profile, greatest(start_date, DATE '2025-12-01') AS lo,
        least(coalesce(end_date, DATE '2026-11-30'), DATE '2026-11-30') AS hi FROM contracts);
"""
_USAGE = """
COPY (
  SELECT 'U-' || CASE WHEN i < 99999999 THEN lpad((i + 1)::VARCHAR, 8, '0') ELSE (i + 1)::VARCHAR END
      AS usage_id,
    s.contract_id, s.metric,
    -- One row in ten carries a UTC timestamp, as metering systems write them.
    (s.lo + rnd(i, 39, s.days)::INTEGER)::VARCHAR || CASE WHEN rnd(i, 37, 10) = 0
      THEN 'T' || lpad(rnd(i, 40, 24)::VARCHAR, 2, '0') || ':' || lpad(rnd(i, 41, 60)::VARCHAR, 2, '0') || ':'
        || lpad(rnd(i, 42, 60)::VARCHAR, 2, '0') || 'Z' ELSE '' END AS usage_date,
    CASE s.metric
      WHEN 'api_calls' THEN (100 + rnd(i, 31, 4901))::VARCHAR
      WHEN 'storage_gb' THEN (10 + rnd(i, 32, 2491))::VARCHAR || '.' || rnd(i, 33, 10)::VARCHAR
      WHEN 'sms' THEN (10 + rnd(i, 34, 891))::VARCHAR
      WHEN 'payments' THEN (5 + rnd(i, 35, 795))::VARCHAR || '.' || lpad(rnd(i, 36, 100)::VARCHAR, 2, '0')
      WHEN 'hours' THEN rnd(i, 38, 8)::VARCHAR || '.' || (['25', '50', '75'])[1 + rnd(i, 43, 3)]
      ELSE '1' END AS quantity,
    CASE WHEN rnd(i, 44, 100) < 90 THEN 'approved' WHEN rnd(i, 44, 100) < 96 THEN 'pending'
      ELSE 'rejected' END AS status
  FROM range(getvariable('demo_usage_rows')) r(i)
  JOIN usage_spans s ON s.k = i % getvariable('demo_contracts') + 1
) TO $path (HEADER, DELIMITER ',');
"""

_DELAYED_CHARGES = """
CREATE TABLE delayed_charges AS
WITH foreign_contracts AS (
  SELECT row_number() OVER (ORDER BY k) AS n, customer_id, currency_code
  FROM contracts WHERE currency_code <> customer_currency),
picks AS (
  SELECT j, rot(j, 45, 10) AS pick, cu.customer_id, cu.currency AS customer_currency
  FROM range(1, getvariable('demo_charges') + 1) r(j)
  JOIN customers cu ON cu.c = 1 + rnd(j, 46, getvariable('demo_customers'))),
base AS (
  -- One charge in ten belongs to a contract in another currency than its customer's, in that currency (a
  -- run sweeps it onto that contract's invoice); one in ten is in a currency the customer has no contract
  -- in (a run reports it as unsweepable); the rest are blank = the customer's currency.
  SELECT p.j, coalesce(f.customer_id, p.customer_id) AS customer_id,
    CASE WHEN f.customer_id IS NOT NULL THEN f.currency_code
      WHEN p.pick = 1 THEN CASE p.customer_currency WHEN 'GBP' THEN 'USD' ELSE 'GBP' END END AS currency,
    coalesce(f.currency_code, p.customer_currency) AS currency_code
  FROM picks p LEFT JOIN foreign_contracts f
    ON p.pick = 0 AND f.n = 1 + rnd(p.j, 50, greatest(1, (SELECT count(*) FROM foreign_contracts))))
SELECT j, printf('DC-%06d', j) AS charge_id, customer_id,
  (['Extra data export', 'Courier', 'Hardware replacement', 'Training session', 'Expedited onboarding',
    'Conference pass'])[1 + rnd(j, 47, 6)] AS description,
  money(minor_micros((5 + rnd(j, 48, 246)) * 1000000, coalesce(currency, currency_code)),
        coalesce(currency, currency_code)) AS amount,
  DATE '2026-01-01' + rnd(j, 49, 304)::INTEGER AS charge_date,
  currency
FROM base;
"""

# The demo's businesses (businesses.csv): the sellers on the documents and their invoice number prefixes; only
# the businesses that have customers.
_BUSINESSES = """
CREATE TABLE businesses AS
SELECT b.* FROM (VALUES
  ('biz-north', 'Northwind Billing Ltd', '12 Harbour Street, Leeds LS1 4AB, United Kingdom', 'GB 123 4567 89', 'N'),
  ('biz-south', 'Southern Cross Services Pty Ltd', '40 George Street, Sydney NSW 2000, Australia', 'ABN 51 824 753 556',
   'S')
) b(business_id, name, address, tax_id, invoice_prefix)
WHERE b.business_id IN (SELECT business_id FROM customers);
"""

_COLUMNS = {
    "customers": "customer_id, name, business_id, email, currency, tax_rate, tax_codes",
    "contracts": "contract_id, customer_id, start_date, end_date, billing_period, billing_cycle_start_day, "
    "billing_timing, payment_terms_days, minimum_commitment, proration, currency",
    "order_lines": "line_id, contract_id, product, kind, pricing_model, description, unit_price, quantity, "
    "metric, aggregation, package_size, free_units, percentage_rate, fixed_fee, "
    "discount_percent, start_date, end_date, tax_codes",
    "price_tiers": "line_id, up_to, unit_price, flat_fee",
    "delayed_charges": "charge_id, customer_id, description, amount, charge_date, currency",
    "taxes": "tax_code, name, rate, business_id",
    "coupons": "coupon_id, name, business_id, kind, amount, currency, percent, frequency, periods, products",
    "applied_coupons": "contract_id, coupon_id, applied_on",
    "businesses": "business_id, name, address, tax_id, invoice_prefix, NULL AS logo_path",
}
_ORDER = {
    "customers": "c",
    "contracts": "k",
    "order_lines": "k, slot",
    "price_tiers": "k, slot, tier",
    "delayed_charges": "j",
    "taxes": "tax_code",
    "coupons": "coupon_id",
    "applied_coupons": "k, nth, coupon_id",
    "businesses": "business_id",
}
ADJUSTMENTS = {"none": 0, "demo": 1, "every": 2}
ADJUSTMENT_TABLES = ("taxes", "coupons", "applied_coupons")


def write_demo_folder(
    out: Path, contracts: int = 50, usage_rows: int | None = None, seed: int = 7, adjustments: str = "demo"
) -> dict[str, int]:
    """Write the demo CSV files (businesses.csv among them) into `out`; returns the rows written per file.

    `adjustments` (spec section 11): "demo" — taxes.csv per business, biz-north's customers with tax codes
    (state + city sales tax, GST + PST, VAT, …; a few exempt customers, setup fees exempt), biz-south's with
    the single tax_rate, and coupons of every kind on one contract in four; "every" — tax codes for every
    customer and coupons on every contract (the benchmark's case); "none" — the single tax_rate only and
    no taxes, coupons or applied_coupons file (the data of spec section 1 alone)."""
    usage_rows = contracts * USAGE_ROWS_PER_CONTRACT if usage_rows is None else usage_rows
    if adjustments not in ADJUSTMENTS:
        raise ValueError(f"adjustments must be one of {', '.join(ADJUSTMENTS)}")
    if contracts < 0 or usage_rows < 0:
        raise ValueError("contracts and usage_rows cannot be negative")
    if usage_rows and not contracts:
        raise ValueError("usage rows need at least one contract")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:")  # a private connection: generation never touches the workbench database
    try:
        con.execute("SET enable_progress_bar = false")
        sizes = {
            "demo_seed": seed,
            "demo_contracts": contracts,
            "demo_usage_rows": usage_rows,
            "demo_customers": -(-contracts * 2 // 3),  # one or two contracts per customer
            "demo_charges": -(-contracts // 5),
            "demo_adjustments": ADJUSTMENTS[adjustments],
            "demo_coupon_codes": [t[0] for t in _COUPON_TEMPLATES],
        }
        for name, value in sizes.items():
            con.execute(f"SET VARIABLE {name} = $value", {"value": value})
        con.execute(_MACROS)
        con.execute(_TEMPLATE_TABLES)
        con.executemany(f"INSERT INTO templates VALUES ({', '.join(['?'] * 13)})", _LINE_TEMPLATES)  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
        con.executemany("INSERT INTO tier_templates VALUES (?, ?, ?, ?, ?)", _TIER_TEMPLATES)
        con.execute(_ADJUSTMENTS)
        con.executemany("INSERT INTO tax_templates VALUES (?, ?, ?)", _TAX_TEMPLATES)
        con.executemany("INSERT INTO coupon_templates VALUES (?, ?, ?, ?, ?, ?, ?)", _COUPON_TEMPLATES)
        # Every profile has exactly one usage line: its metric is the metric of the profile's usage rows.
        con.execute(
            "SET VARIABLE demo_metrics = (SELECT list(metric ORDER BY profile) FROM templates WHERE kind = 'usage')"
        )
        for script in (
            _CUSTOMERS,
            _CONTRACTS,
            _ORDER_LINES,
            _USAGE_SPANS,
            _DELAYED_CHARGES,
            _TAXES,
            _COUPONS,
            _BUSINESSES,
        ):
            con.execute(script)
        counts = {}
        for table in INPUT_TABLES:
            path = str(out / f"{table}.csv")
            if table in ADJUSTMENT_TABLES and adjustments == "none":
                counts[table] = 0  # no file: the folder is one of spec section 1 alone
                continue
            if table == "usage":
                con.execute(_USAGE, {"path": path})
                counts[table] = usage_rows
                continue
            con.execute(
                f"COPY (SELECT {_COLUMNS[table]} FROM {table} ORDER BY {_ORDER[table]}) "  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
                "TO $path (HEADER, DELIMITER ',')",
                {"path": path},
            )
            counts[table] = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
        return counts
    finally:
        con.close()


def seed_demo(
    con: duckdb.DuckDBPyConnection,
    contracts: int = 50,
    usage_rows: int | None = None,
    seed: int = 7,
    progress: Progress | None = None,
    adjustments: str = "demo",
) -> dict[str, int]:
    """Generate the demo folder and import it like any data folder (so demo data always passes validation)."""
    with tempfile.TemporaryDirectory(prefix="billsim-demo-") as tmp:
        if progress:
            progress(0.0, f"generating {contracts:,} demo contracts")
        write_demo_folder(Path(tmp), contracts=contracts, usage_rows=usage_rows, seed=seed, adjustments=adjustments)
        return import_folder(con, Path(tmp), progress=within(progress, 0.3, 1.0))
