"""citybase's synthetic district: a seeded, deterministic 郑东新区 with its departmental
systems in their native formats, realistic dirt in known proportions, and a ground truth.

    from district import generate, advance, load_sql_system, SQL_SYSTEMS
    summary = generate(out_dir, persons=20_000, seed=7)   # also: python -m district --out DIR
    changes = advance(out_dir)                            # one month later
    load_sql_system(out_dir, "pension", "postgresql+psycopg://…")

Dirt rates live in `district.dirt.DIRT` / `ROW_DIRT`; observed counts in district.json.
"""

from district.generate import advance, generate
from district.systems_sql import SQL_SYSTEMS, load_sql_system

__all__ = ["generate", "advance", "load_sql_system", "SQL_SYSTEMS"]
