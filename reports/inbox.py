"""The returns inbox: workbooks staff hand back by file share (`<inbox>/reports/*.xlsx`).

Each file is ingested on its own (`reports.intake.ingest`) and moved out of the way: to
`accepted/`, or to `refused/` beside a `<name>.问题.txt` listing every problem in Chinese, for
whoever handed it in. A refused workbook is an outcome, not a pipeline failure.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from reports.intake import ingest
from warehouse.landing import LoadReport

PATTERN = "*.xlsx"


def pending(inbox: Path) -> list[Path]:
    return sorted(p for p in inbox.glob(PATTERN) if p.is_file() and not p.name.startswith((".", "~$")))


def process(home: Path, inbox: Path, actor: str = "inbox") -> LoadReport:
    started = time.perf_counter()
    report = LoadReport(source="reports", dataset="form_value")
    for path in pending(inbox):
        outcome = ingest(home, path.read_bytes(), name=path.name, actor=actor, origin=str(inbox))
        if outcome.accepted:
            report.rows += outcome.rows
            report.files_loaded.append(path.name)
            if outcome.batch_id:
                report.batches.append(outcome.batch_id)
            _move(path, inbox / "accepted")
        else:
            report.files_rejected.append((path.name, str(outcome.problems[0])))
            moved = _move(path, inbox / "refused")
            moved.with_name(moved.name + ".问题.txt").write_text(outcome.report() + "\n", "utf-8")
    report.seconds = time.perf_counter() - started
    return report


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    n = 1
    while target.exists():
        target = folder / f"{path.stem}({n}){path.suffix}"
        n += 1
    os.replace(path, target)
    return target
