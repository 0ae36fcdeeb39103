"""What every benchmark section of BENCHMARKS.md states, and how a section is replaced in place.

Each stage of `python -m bench` owns one `## <title>` section; writing it replaces that section
where it stands (or appends it), and leaves the other stages' sections alone, so running one
stage (`--only standardize`) never erases the numbers of another.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import re
import resource
import subprocess
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = "# Benchmarks\n\nLatest results of `make bench` (`python -m bench`).\n\n"


def machine() -> str:
    """CPU model, cores, RAM, Python and kernel: what the numbers were measured on."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {mp.cpu_count()} cores{mem}, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def load_average() -> str:
    return "{:.2f}/{:.2f}/{:.2f}".format(*os.getloadavg())


def commit() -> str:
    """Short HEAD, marked `+changes` when the working tree differs from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    return f"{head or 'uncommitted'}{' + uncommitted changes' if dirty else ''}"


def peak_rss_mb() -> float:
    """This process's RSS high-water mark (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ChildFailed(RuntimeError):
    """A measurement failed in its child process (the child's traceback is the message)."""


def measured(fn, *args) -> dict:
    """Runs in a fresh child process: fn's result dict plus this process's peak RSS.

    A failure comes back as ChildFailed with the child's traceback: an exception type that
    does not survive pickling (one with a required extra argument) would otherwise leave the
    pool's result thread dead and the parent waiting forever."""
    try:
        result = fn(*args)
    except BaseException:
        raise ChildFailed(traceback.format_exc()) from None
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def run_isolated(fn, *args) -> dict:
    """fn(*args) in a fresh (spawned) process, so that its peak RSS is its own."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(measured, (fn, *args))


def provenance(*, when: str, machine: str, commit: str, load_before: str, load_after: str, command: str) -> str:
    """The sentence every section opens with."""
    return (f"Measured {when} on {machine}; commit {commit}; `{command}`; load average (1/5/15 min) "
            f"{load_before} before, {load_after} after")


def write_section(path: Path, title: str, body: str) -> None:
    """Replace the section of BENCHMARKS.md whose heading starts like `## {title}` up to its
    colon ('## Ingest:'), so a reworded subtitle is still found; keep every other section;
    append the section if it is not there yet."""
    section = f"## {title}\n\n{body.strip()}\n"
    text = path.read_text("utf-8") if path.exists() else HEADER
    marker = "## " + title.split(":")[0]
    start = next((m.start() for m in re.finditer(r"^## ", text, re.M) if text.startswith(marker, m.start())), -1)
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + ("\n" + text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text, "utf-8")

