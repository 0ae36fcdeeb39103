"""Enterprise names: canonical display form and a matching key.

    normalize_enterprise_name(values) -> DataFrame, same length and order, columns:
        enterprise_name   display form (null when enterprise_issue is set): NFKC, whitespace
                          touching a Hanzi removed, traditional → simplified, brackets made
                          full-width '（）'. Region prefix and organisational form stay as
                          written: '有限公司' and '有限责任公司' are different registered names.
        enterprise_key    matching key: region prefixes ('河南省', '郑州市', '郑东新区' …, at the
                          head) and bracketed regions ('（郑州）') dropped, organisational form
                          dropped, brackets and punctuation dropped, Latin upper-cased:
                          '河南德泰建筑工程有限责任公司' and '德泰建筑工程有限公司' → '德泰建筑工程'
        org_form          the organisational form written at the end ('股份有限公司',
                          '有限责任公司', '有限公司', '专业合作社', '分公司', …) or null
        enterprise_issue  see REASONS, or null

The key is for blocking and comparison, not identity: '郑州华鑫科技有限公司' and
'洛阳华鑫科技股份有限公司' share the key '华鑫科技' on purpose; the USCC decides. Regions
outside the known lists (province, Henan city, Zhengzhou district/county names) stay in the
key ('原阳县汇诚养殖').
"""

from __future__ import annotations

import polars as pl

from warehouse.normalize.addresses import HENAN_CITIES, PROVINCES, ZHENGZHOU_DISTRICTS
from warehouse.normalize.text import join_back, nfkc, strip_spaces_near_han, to_simplified, unique_frame

COLUMNS = ["enterprise_name", "enterprise_key", "org_form", "enterprise_issue"]

REASONS: dict[str, str] = {
    "enterprise.empty": "单位名称为空。",
    "enterprise.bad_chars": "单位名称中有乱码或异常字符（如“?”），请对照营业执照核对。",
    "enterprise.no_name": "单位名称只有地名和组织形式（如“郑州有限公司”），缺少字号。",
    "enterprise.too_short": "单位名称不足4个字，可能填的是简称或个人姓名。",
}

# Longest first: '股份有限公司' before '有限公司'. Bracketed partnership forms are written
# with full-width brackets by the time they are matched.
ORG_FORMS = ["股份有限公司", "有限责任公司", "有限公司", "股份合作公司", "个人独资企业", "（特殊普通合伙）",
             "（普通合伙）", "（有限合伙）", "农民专业合作社", "专业合作社", "合作社", "分公司", "分店", "分厂",
             "营业部", "办事处", "集团"]
_SHORT_PROVINCES = [p.removesuffix("省").removesuffix("市") for p in PROVINCES if len(p) <= 4] + [
    "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门"]
_SHORT_CITIES = [c.removesuffix("市") for c in HENAN_CITIES]
REGION_NAMES = sorted({*PROVINCES, *_SHORT_PROVINCES, *HENAN_CITIES, *_SHORT_CITIES, *ZHENGZHOU_DISTRICTS, "中国"},
                      key=len, reverse=True)
_PLACEHOLDERS = ["无", "暂无", "不详", "未知", "个人", "无单位", "null", "none", "nan", "-", "/"]


def normalize_enterprise_name(values: pl.Series) -> pl.DataFrame:
    """Display name, matching key and organisational form; see the module docstring."""
    u = unique_frame(values).with_columns(s=_clean(pl.col("raw")))
    u = u.with_columns(s=to_simplified(u["s"]))
    display = pl.col("s").str.replace_many(["(", ")", "[", "]", "【", "】", "〔", "〕"],
                                           ["（", "）", "（", "）", "（", "）", "（", "）"])
    u = u.with_columns(display=display)
    forms = "|".join(ORG_FORMS)
    u = u.with_columns(org_form=pl.col("display").str.extract(f"({forms})$", 1).str.strip_chars("（）"))
    regions = "|".join(REGION_NAMES)
    key = (pl.col("display").str.replace(f"(?:{forms})$", "")
           # up to three heads: province, city, district ('河南省郑州市郑东新区…')
           .str.replace(f"^(?:{regions})", "").str.replace(f"^(?:{regions})", "").str.replace(f"^(?:{regions})", "")
           .str.replace_all(f"（(?:{regions})）", "")
           .str.replace_all(r"[^\p{Han}A-Za-z0-9]", "").str.to_uppercase())
    u = u.with_columns(key=key)
    s = pl.col("s")
    issue = (pl.when(s.is_null() | (s == "") | s.str.to_lowercase().is_in(_PLACEHOLDERS)).then(pl.lit("enterprise.empty"))
             .when(s.str.contains(r"[?\x{FFFD}\p{Cc}]")).then(pl.lit("enterprise.bad_chars"))
             .when(pl.col("key") == "").then(pl.lit("enterprise.no_name"))
             .when(s.str.len_chars() < 4).then(pl.lit("enterprise.too_short")))
    u = u.with_columns(enterprise_issue=issue)
    ok = pl.col("enterprise_issue").is_null()
    u = u.with_columns(enterprise_name=pl.when(ok).then("display"), enterprise_key=pl.when(ok).then("key"),
                       org_form=pl.when(ok).then("org_form"))
    return join_back(values, u, COLUMNS)


def _clean(raw: pl.Expr) -> pl.Expr:
    s = strip_spaces_near_han(nfkc(raw).str.strip_chars())
    return s.str.replace_all(r"\s+", " ")
