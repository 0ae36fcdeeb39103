"""Money amounts written as text, converted exactly between 分 / 元 / 万元 and friends.

    normalize_amount(values, *, unit, to='元', scale=2, allow_negative=True) -> pl.DataFrame
        amount        pl.Decimal(18, scale) in the target unit, null when invalid
        amount_issue  null | 'amount.empty' | 'amount.unparseable' | 'amount.too_many_decimals' |
                      'amount.out_of_range' | 'amount.negative' (only with allow_negative=False)

Read: '1234.56', '1,234.56' (thousands groups must be well formed: '1,5' is a European
decimal comma or a typo, so unparseable), '¥1,234.56', 'RMB 100', '100元', '12.5万元',
'12.5万', '-5', '(5.00)' (accounting negative), '1.2E+05' (Excel), full-width characters and
spaces anywhere. A unit written in the value wins over the column's `unit`: '4358.00元' in a
万元 column is 0.4358 万元 — the clerk said what it is.

Exactness: the digits are shifted by powers of ten as integers (Int128) and the result is a
Decimal; floats never touch the value. When the exact value needs more decimals than `scale`
(e.g. '0.123456万元' → 1234.56 元 is fine, '12.345' 元 at scale 2 is not) we do NOT round:
the amount is null with 'amount.too_many_decimals' — rounding money is a business decision the
caller makes explicitly (trailing zeros are not precision: '12.3400' is fine). A float artefact
from a source ('440.70000000000005') lands there too, which is where it belongs.

Speed: plain numbers ('-123.45') are cut with string slices; only decorated values (currency,
units, separators, parentheses, exponents) pay for the full regex.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from warehouse.normalize.identifiers import nfkc_text

REASONS: dict[str, str] = {
    "amount.empty": "金额为空",
    "amount.unparseable": "金额无法识别为数字（请只填数字，可带小数点、千分位逗号和单位）",
    "amount.too_many_decimals": "金额小数位数过多，换算后超出系统保留的精度（系统不会自动四舍五入）",
    "amount.out_of_range": "金额过大，超出系统可保存的范围",
    "amount.negative": "金额不能为负数",
}

# Powers of ten relative to 元.
UNITS: dict[str, int] = {"分": -2, "角": -1, "元": 0, "千元": 3, "万元": 4, "亿元": 8}
_SUFFIXES: dict[str, int] = {**UNITS, "万": 4, "亿": 8, "块": 0}
_PRECISION = 18
_FAST = r"^-?[0-9]+(?:\.[0-9]+)?$"
_FULL = (
    r"(?i)^(?P<lead>[-+])?(?P<open>\()?(?:¥|RMB|CNY|人民币)?(?P<sign>[-+])?"
    r"(?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?:\.(?P<frac>[0-9]*))?(?:E(?P<exp>[-+]?[0-9]{1,2}))?"
    r"(?P<unit>" + "|".join(sorted(_SUFFIXES, key=len, reverse=True)) + r")?(?P<close>\))?$"
)


def _text(values: pl.Series) -> pl.Series:
    """NFKC where needed ('￥' → '¥', full-width digits), then all whitespace removed."""
    # U+2212 MINUS SIGN is not a compatibility form of '-'.
    s = nfkc_text(values, lambda w: w.str.replace_all("\u2212", "-", literal=True))
    spaced = s.str.contains(r"\s").fill_null(False).arg_true()
    return s.scatter(spaced, s.gather(spaced).str.replace_all(r"\s", "")) if len(spaced) else s


def _parts_fast(t: pl.Series) -> pl.DataFrame:
    """neg / int / frac / exp / unit_exp of plain '-123.45' values, cut without a regex."""
    c = pl.col("t")
    neg = c.str.starts_with("-")
    body = pl.when(neg).then(c.str.slice(1)).otherwise(c)
    dot = body.str.find(".", literal=True)
    return pl.DataFrame({"t": t}).select(
        neg=neg, int=pl.when(dot.is_null()).then(body).otherwise(body.str.slice(0, dot)),
        frac=pl.when(dot.is_null()).then(pl.lit("")).otherwise(body.str.slice(dot + 1)),
        exp=pl.lit(0, pl.Int32), unit_exp=pl.lit(None, pl.Int32), parsed=pl.lit(True))


def _parts_slow(t: pl.Series) -> pl.DataFrame:
    g = pl.DataFrame({"t": t}).select(pl.col("t").str.extract_groups(_FULL)).unnest("t")
    int_, frac = pl.col("int").str.replace_all(",", "", literal=True), pl.col("frac").fill_null("")
    paren = pl.col("open").is_not_null()
    signs = pl.col("lead").is_not_null().cast(pl.Int8) + pl.col("sign").is_not_null().cast(pl.Int8)
    parsed = (
        pl.col("int").is_not_null()  # the regex matched
        & ((int_ != "") | (frac != ""))  # at least one digit
        & (paren == pl.col("close").is_not_null())
        & ((signs == 0) | ((signs == 1) & ~paren))  # '(-5)' and '-+5' are not amounts
    )
    return g.select(
        neg=paren | (pl.col("lead") == "-") | (pl.col("sign") == "-"),
        int=int_, frac=frac, exp=pl.col("exp").cast(pl.Int32).fill_null(0),
        unit_exp=pl.col("unit").replace_strict(_SUFFIXES, default=None, return_dtype=pl.Int32),
        parsed=parsed.fill_null(False))


def normalize_amount(values: pl.Series, *, unit: str, to: str = "元", scale: int = 2,
                     allow_negative: bool = True) -> pl.DataFrame:
    """Parse amounts given in `unit` and convert them exactly to `to` with `scale` decimals;
    see the module doc. Units: 分 角 元 千元 万元 亿元."""
    if unit not in UNITS or to not in UNITS:
        raise ValueError(f"unit and to must be one of {', '.join(UNITS)}; got {unit!r}, {to!r}")
    if not 0 <= scale <= _PRECISION:
        raise ValueError(f"scale must be between 0 and {_PRECISION}, got {scale}")
    t = _text(values)
    fast = t.str.contains(_FAST).fill_null(False)
    parts = _parts_fast(t)
    slow = (~fast & t.is_not_null() & (t != "")).arg_true()
    if len(slow):
        rest = _parts_slow(t.gather(slow))
        parts = parts.with_columns(parts.get_column(k).scatter(slow, rest.get_column(k)) for k in parts.columns)

    # value = digits × 10^(shift - len(frac)); stored unscaled as value × 10^scale = digits × 10^p
    digits = (pl.col("int") + pl.col("frac")).str.strip_chars_start("0")
    shift = pl.col("unit_exp").fill_null(UNITS[unit]) - UNITS[to] + pl.col("exp")
    p = shift + scale - pl.col("frac").str.len_chars().cast(pl.Int32)
    n, p_, d = pl.col("n"), pl.col("p"), pl.col("digits")
    zero = n == 0
    too_big = ~zero & (n + p_ > _PRECISION)
    # Digits dropped by a negative p must all be zeros. With trailing zeros gone from the
    # fraction, anything past Int128's 38 digits is too big or too precise, never cast.
    too_precise = ~zero & (p_ < 0) & ((-p_ > 38) | (d.str.slice((n + p_).clip(0)).str.strip_chars("0") != ""))
    ten = pl.lit(10, pl.Int128)
    d128 = pl.col("d128")
    unscaled = pl.when(p_ >= 0).then(d128 * ten.pow(p_.clip(0, 38))).otherwise(d128 // ten.pow((-p_).clip(0, 38)))
    signed = pl.when(pl.col("neg")).then(pl.lit(0, pl.Int128) - unscaled).otherwise(unscaled)
    amount = (signed.cast(pl.Decimal(38, 0)) * pl.lit(Decimal(1).scaleb(-scale), pl.Decimal(38, scale))
              ).cast(pl.Decimal(_PRECISION, scale))
    raw = pl.col("raw")
    issue = (
        pl.when(raw.is_null() | (raw == "")).then(pl.lit("amount.empty"))
        .when(~pl.col("parsed")).then(pl.lit("amount.unparseable"))
        .when(too_big).then(pl.lit("amount.out_of_range"))
        .when(too_precise).then(pl.lit("amount.too_many_decimals"))
        .when(pl.lit(not allow_negative) & pl.col("neg") & ~zero).then(pl.lit("amount.negative"))
    )
    return (
        parts.lazy().with_columns(pl.col("frac").str.strip_chars_end("0"))  # '12.3400' is 12.34
        .with_columns(raw=t, digits=digits, p=p)
        .with_columns(n=d.str.len_chars())
        .with_columns(amount_issue=issue)
        .with_columns(d128=pl.when(pl.col("amount_issue").is_null() & ~zero).then(d.cast(pl.Int128, strict=False))
                      .otherwise(pl.lit(0, pl.Int128)))
        .select(amount=pl.when(pl.col("amount_issue").is_null()).then(amount), amount_issue="amount_issue")
        .collect()
    )
