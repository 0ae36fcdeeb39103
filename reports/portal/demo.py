"""Demo accounts, one per level, for the synthetic district only (documented in the README).

The grid is the one whose care roster (重点人群关怀台账) has the most people, so the demo has
something to fill in; the reviewers are that grid's community and street.
"""

from __future__ import annotations

from pathlib import Path

from reports.forms import FormStore
from reports.portal.accounts import Accounts, OrgTree
from reports.prefill import open_library

PASSWORD = "citybase-demo"  # the demo's only; never on a real home
ROLES = (("grid_worker", "网格员"), ("community_reviewer", "社区审核人"), ("street_reviewer", "街道审核人"),
         ("district_admin", "区级管理员"))


def seed_demo_accounts(home: Path) -> list[tuple[str, str, str]]:
    """(username, unit name, role) of each demo account, created or reset."""
    issued = [f for f in FormStore(home).list("key_population_care") if f.rows]
    con = open_library(home)
    try:
        tree = OrgTree.load(con)
    finally:
        con.close()
    if issued:
        grid = max(issued, key=lambda f: (f.rows, f.unit_code)).unit_code
    else:
        grid = min(c for c, level in tree.level.items() if level == "网格")
    chain = tree.ancestors(grid)  # grid, community, street, district
    accounts = Accounts(home)
    out = []
    for (username, role), code in zip(ROLES, chain):
        accounts.add(username, PASSWORD, code, f"{role}（演示）")
        out.append((username, tree.name[code], role))
    return out
