"""Mainland Chinese phone numbers: mobiles and landlines, as people and systems write them.

    normalize_phone(values, *, default_area_code=None) -> pl.DataFrame
        phone        str   mobile: 11 digits '13812345678'; landline: 'area-local' '0371-67188888';
                           null when invalid
        phone_kind   str   'mobile' | 'landline' (null when invalid)
        phone_ext    str   extension digits of a landline ('0371-67188888转123', '…-123'), or null
        phone_note   str   null | 'phone.area_code_assumed' (a 7-8 digit local number given
                           `default_area_code`)
        phone_issue  str   null | 'phone.empty' | 'phone.bad_chars' | 'phone.multiple_numbers' |
                           'phone.foreign_number' | 'phone.missing_area_code' | 'phone.bad_format'

Accepted: '+86' / '0086' / '86' (before a mobile) prefixes, '+86 371 …' (international form
without the trunk 0), separators (space, -, ., parentheses, brackets), full-width characters.
Area codes are 3 digits ('010', '02x') or 4 digits (every other '0xxx'), per the national
numbering plan; local numbers are 7-8 digits starting 2-9. A typo that keeps the shape of a
number cannot be detected here.

Speed: bare mobiles and canonical landlines are settled by one pattern check each; only the
other rows pay for the full parse (~15 regex passes).
"""

from __future__ import annotations

import re

import polars as pl

from warehouse.normalize.identifiers import nfkc_text

REASONS: dict[str, str] = {
    "phone.empty": "联系电话为空",
    "phone.bad_chars": "联系电话含有数字和分隔符以外的字符",
    "phone.multiple_numbers": "一个单元格里填了多个电话号码，请只保留一个",
    "phone.foreign_number": "联系电话不是中国大陆号码（国际区号不是+86）",
    "phone.missing_area_code": "固定电话缺少区号",
    "phone.bad_format": "联系电话格式不对：不是11位手机号，也不是“区号-号码”形式的固定电话",
    "phone.area_code_assumed": "固定电话未填区号，已按本地区号补全",
}

_DASHES = r"[\u2010-\u2015\u2212\u30fc]"
_EXT_WORD = r"(?i)\s*(?:转|轉|分机|分機|ext\.?|x|#)\s*([0-9]{1,6})$"
# A landline written with separators, then '-ext': '0371-67188888-123', '(0371)67188888-8001'.
_EXT_DASH = r"^((?:\+?86|0086)?[\s-]*\(?0[0-9]{2,3}\)?[\s-]*[2-9][0-9]{6,7})\s*-\s*([0-9]{1,6})$"
_MOBILE = r"^1[3-9][0-9]{9}$"
# Area codes: 010 and 02x are 3 digits, all others 4; local numbers 7-8 digits, not 0/1-led.
_LANDLINE = r"^(0(?:10|2[0-9])|0[3-9][0-9]{2})([2-9][0-9]{6,7})$"
_LOCAL = r"^[2-9][0-9]{6,7}$"
_CANONICAL_LANDLINE = r"^(?:0(?:10|2[0-9])|0[3-9][0-9]{2})-[2-9][0-9]{6,7}$"


def _text(values: pl.Series) -> pl.Series:
    # dashes other than '-' are not compatibility forms of it
    return nfkc_text(values, lambda w: w.str.replace_all(_DASHES, "-")).str.strip_chars()


def normalize_phone(values: pl.Series, *, default_area_code: str | None = None) -> pl.DataFrame:
    """Validate and canonicalize phone numbers; see the module doc.

    `default_area_code` (e.g. '0371'): area code for 7-8 digit local numbers written without
    one, flagged in `phone_note`; None (default) reports them as 'phone.missing_area_code'.
    """
    if default_area_code is not None and not re.fullmatch(r"0[0-9]{2,3}", default_area_code):
        raise ValueError(f"default_area_code must be '0' + 2-3 digits, got {default_area_code!r}")
    t = _text(values)
    # Most values are a bare mobile or an already canonical landline: settled with one check
    # each; the rest take the full parse.
    mobile = t.str.contains(_MOBILE).fill_null(False)
    landline = ~mobile & t.str.contains(_CANONICAL_LANDLINE).fill_null(False)
    bare = mobile | landline
    out = pl.DataFrame({"t": t}).select(
        phone=pl.when(bare).then(pl.col("t")),
        phone_kind=pl.when(mobile).then(pl.lit("mobile")).when(landline).then(pl.lit("landline")),
        phone_ext=pl.lit(None, pl.String), phone_note=pl.lit(None, pl.String), phone_issue=pl.lit(None, pl.String))
    rows = (~bare).arg_true()
    if len(rows):
        rest = _parse(t.gather(rows), default_area_code)
        out = out.with_columns(out.get_column(k).scatter(rows, rest.get_column(k)) for k in out.columns)
    return out


def _parse(raw_text: pl.Series, default_area_code: str | None) -> pl.DataFrame:
    # Extensions are rare: find them with two checks, cut them out of those rows only.
    ext = pl.repeat(None, len(raw_text), dtype=pl.String, eager=True)
    main = raw_text
    word = raw_text.str.contains(_EXT_WORD).fill_null(False)
    dash = ~word & raw_text.str.contains(_EXT_DASH).fill_null(False)
    if word.any():
        rows, text = word.arg_true(), raw_text.filter(word)
        ext, main = ext.scatter(rows, text.str.extract(_EXT_WORD, 1)), main.scatter(rows, text.str.replace(_EXT_WORD, ""))
    if dash.any():
        rows, text = dash.arg_true(), raw_text.filter(dash)
        ext, main = ext.scatter(rows, text.str.extract(_EXT_DASH, 2)), main.scatter(rows, text.str.extract(_EXT_DASH, 1))
    raw = pl.col("raw")
    digits = pl.col("main").str.replace_all(r"[\s\-.()\[\]]", "")
    d = pl.col("digits")
    intl = d.str.contains(r"^(?:\+|00)86")
    national = d.str.replace(r"^(?:\+|00)86", "")
    # '+86 371 6718 8888': the international form drops the trunk 0 of the area code.
    national = (pl.when(intl & national.str.contains(r"^(?:10|[2-9][0-9]{1,2})[2-9][0-9]{6,7}$")).then("0" + national)
                .when(~intl & national.str.contains(r"^861[3-9][0-9]{9}$")).then(national.str.slice(2))
                .otherwise(national))
    n = pl.col("national")
    mobile = n.str.contains(_MOBILE)
    landline = n.str.contains(_LANDLINE)
    local = n.str.contains(_LOCAL)
    assumed = local & pl.lit(default_area_code is not None)
    issue = (
        pl.when(raw.is_null() | (raw == "")).then(pl.lit("phone.empty"))
        # '138…，139…', '138… 139…', '138…或0371-…'; one number may carry inner spaces.
        .when(raw.str.contains(r"[,;/、|]|[0-9]\s*(?:或|和)\s*[0-9]|[0-9]{7,}\s+\+?[0-9]{7,}"))
        .then(pl.lit("phone.multiple_numbers"))
        .when(~d.str.contains(r"^\+?[0-9]*$")).then(pl.lit("phone.bad_chars"))
        .when(d.str.contains(r"^(?:\+|00)") & ~intl).then(pl.lit("phone.foreign_number"))
        .when(mobile & pl.col("ext").is_null()).then(None)  # an extension belongs to a switchboard
        .when(landline | assumed).then(None)
        .when(local).then(pl.lit("phone.missing_area_code"))
        .otherwise(pl.lit("phone.bad_format"))
    )
    ok = pl.col("phone_issue").is_null()
    kind = pl.when(mobile).then(pl.lit("mobile")).otherwise(pl.lit("landline"))
    canonical = (pl.when(mobile).then(n)
                 # the area code is 3 digits after '01'/'02', else 4 (what _LANDLINE matched)
                 .when(landline).then(pl.when(n.str.slice(1, 1).is_in(["1", "2"]))
                                      .then(n.str.slice(0, 3) + "-" + n.str.slice(3))
                                      .otherwise(n.str.slice(0, 4) + "-" + n.str.slice(4)))
                 .otherwise(pl.lit(default_area_code or "") + "-" + n))
    return (
        pl.LazyFrame({"raw": raw_text, "ext": ext, "main": main})
        .with_columns(digits=digits)
        .with_columns(national=national)
        .with_columns(phone_issue=issue)
        .select(
            phone=pl.when(ok).then(canonical),
            phone_kind=pl.when(ok).then(kind),
            phone_ext=pl.when(ok).then(pl.col("ext")),
            phone_note=pl.when(ok & assumed).then(pl.lit("phone.area_code_assumed")),
            phone_issue="phone_issue",
        )
        .collect()
    )
