"""12345 hotline categories: map what a ticket carries onto the one canonical 3-level tree.

    load_category_tree(path=None) -> DataFrame, one row per node:
        code ('010101'), level (1-3), name, parent_code, l1, l2, l3 (names on its path),
        aliases (list[str]); the default is hotline_categories.yaml beside this module.
    normalize_category(values, tree=None) -> DataFrame, same length and order, columns:
        category                                canonical path '城乡建设/市政设施/路灯不亮' (only
                                                the levels reached for 'category.incomplete')
        category_l1, category_l2, category_l3   canonical names
        category_code                           code of the deepest node reached
        category_issue                          see REASONS, or null

Accepted input: a path with any of the usual separators ('城乡建设/市政设施/路灯不亮',
'城乡建设-市政设施-路灯不亮', '城乡建设 > 市政设施 > 路灯不亮', '城乡建设／市政设施／路灯不亮'),
partial paths ('市政设施/路灯不亮', '路灯不亮'), names joined without separator
('城乡建设市政设施路灯不亮'), traditional characters and the aliases listed in the tree
('城管/噪音/广场舞扰民'). Each name may sit at one node only, so a single leaf name is enough.
The resolver is plain Python over the distinct values: a ticket column has a few hundred.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import polars as pl
import yaml

from warehouse.normalize.text import join_back, map_unique, nfkc, to_simplified, unique_frame

TREE_FILE = Path(__file__).with_name("hotline_categories.yaml")
COLUMNS = ["category", "category_l1", "category_l2", "category_l3", "category_code", "category_issue"]

REASONS: dict[str, str] = {
    "category.empty": "诉求分类为空。",
    "category.unknown": "诉求分类不在规范分类目录中，无法对应。",
    "category.incomplete": "诉求分类只能对应到一级或二级分类，缺少或无法识别三级分类。",
    "category.conflict": "诉求分类的各级名称互相矛盾（如二级分类不属于所写的一级分类）。",
}

_SEPARATORS = r"\s*(?:->|=>|>>|[/\\|>»→、,;:：，；\-－—·])\s*"
_RESULT = pl.Struct({"category_l1": pl.String, "category_l2": pl.String, "category_l3": pl.String,
                     "category_code": pl.String, "category_issue": pl.String})


def load_category_tree(path: Path | str | None = None) -> pl.DataFrame:
    """The canonical tree as a flat node table (see the module docstring)."""
    return _load(str(path or TREE_FILE))


@cache
def _load(path: str) -> pl.DataFrame:
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    rows: list[dict] = []

    def walk(node: dict, level: int, parent: dict | None) -> None:
        names = [*(parent["names"] if parent else []), node["name"]]
        row = {"code": str(node["code"]), "level": level, "name": node["name"],
               "parent_code": parent["code"] if parent else None,
               "l1": names[0], "l2": names[1] if level >= 2 else None, "l3": names[2] if level >= 3 else None,
               "aliases": [str(a) for a in node.get("aliases") or []], "names": names}
        rows.append(row)
        for child in node.get("children") or []:
            walk(child, level + 1, row)

    for top in doc["categories"]:
        walk(top, 1, None)
    return pl.DataFrame(rows).drop("names")


def normalize_category(values: pl.Series, tree: pl.DataFrame | None = None) -> pl.DataFrame:
    """Canonical category levels and code per value; see the module docstring."""
    resolver = _Resolver(load_category_tree() if tree is None else tree)
    u = unique_frame(values).with_columns(s=nfkc(pl.col("raw")).str.strip_chars())
    u = u.with_columns(s=to_simplified(u["s"]).str.replace_all(_SEPARATORS, "/").str.replace_all(r"\s+", ""))
    u = u.with_columns(map_unique(u["s"].fill_null(""), resolver.resolve, _RESULT).alias("r")).unnest("r")
    u = u.with_columns(category=pl.concat_str("category_l1", "category_l2", "category_l3", separator="/",
                                              ignore_nulls=True).replace("", None))
    return join_back(values, u, COLUMNS)


class _Resolver:
    def __init__(self, tree: pl.DataFrame) -> None:
        self.nodes = {r["code"]: r for r in tree.iter_rows(named=True)}
        self.by_name: dict[str, list[str]] = {}
        for code, node in self.nodes.items():
            for name in [node["name"], *node["aliases"]]:
                self.by_name.setdefault(name, []).append(code)
        # longest first, for names written without separators
        self.names = sorted(self.by_name, key=len, reverse=True)

    def ancestors(self, code: str) -> list[str]:
        out = [code]
        while (parent := self.nodes[out[-1]]["parent_code"]) is not None:
            out.append(parent)
        return out

    def resolve(self, s: str) -> dict:
        parts = [p for p in s.split("/") if p]
        if not parts:
            return self._result(None, "category.empty")
        if len(parts) == 1 and parts[0] not in self.by_name:
            parts = self._segment(parts[0]) or parts
        known = [self.by_name.get(p) for p in parts]
        if not any(known):
            return self._result(None, "category.unknown")
        # The deepest named node whose path holds every other recognised part.
        candidates = sorted({c for codes in known if codes for c in codes}, key=lambda c: -self.nodes[c]["level"])
        for code in candidates:
            path = set(self.ancestors(code))
            if all(codes is None or path.intersection(codes) for codes in known):
                level = self.nodes[code]["level"]
                complete = level == 3 and known[-1] is not None
                return self._result(code, None if complete else "category.incomplete")
        return self._result(None, "category.conflict")

    def _segment(self, text: str) -> list[str] | None:
        """'城乡建设市政设施路灯不亮' → names, greedily longest first; None if some rest is left."""
        out, i = [], 0
        while i < len(text):
            hit = next((n for n in self.names if text.startswith(n, i)), None)
            if hit is None:
                return None
            out.append(hit)
            i += len(hit)
        return out

    def _result(self, code: str | None, issue: str | None) -> dict:
        node = self.nodes.get(code) if code else None
        return {"category_l1": node and node["l1"], "category_l2": node and node["l2"],
                "category_l3": node and node["l3"], "category_code": code, "category_issue": issue}
