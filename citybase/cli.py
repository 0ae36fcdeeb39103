"""The `citybase` command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
from rich.console import Console

from citybase.config import settings as load_settings

REPO = Path(__file__).resolve().parent.parent
# Piped output (CI logs, `| tee`) gets a width that fits the summary table.
console = Console() if sys.stdout.isatty() else Console(width=140)

home_option = click.option(
    "--home", type=click.Path(file_okay=False), default=None, help="citybase home (default $CITYBASE_HOME or ~/.citybase)"
)


@click.group()
def main() -> None:
    """citybase — district data governance: sources → base library → 一表通 workbooks."""


@main.command()
@click.option("--persons", default=20_000, show_default=True, help="residents in the synthetic district")
@click.option("--seed", default=7, show_default=True, help="random seed of the synthetic district")
@click.option("--fresh", is_flag=True, help="delete this home first and start over")
@home_option
def demo(persons: int, seed: int, fresh: bool, home: str | None) -> None:
    """Build the synthetic district and land every departmental source through Dagster."""
    from citybase.demo import DemoError, run_demo

    try:
        ok = run_demo(load_settings(home), persons, seed, fresh, console)
    except DemoError as exc:
        console.print(f"[red]{exc}[/]")
        sys.exit(2)
    sys.exit(0 if ok else 1)


@main.command()
@click.option("--port", default=3000, show_default=True)
@home_option
def ui(port: int, home: str | None) -> None:
    """Open the Dagster UI on this home (and run the district's hotline system beside it)."""
    from citybase.demo import district_systems, prepare_home

    settings = load_settings(home)
    prepare_home(settings)
    with district_systems(settings):
        cmd = [sys.executable, "-m", "dagster", "dev", "-w", str(REPO / "workspace.yaml"), "-p", str(port)]
        console.print(f"Dagster UI: http://127.0.0.1:{port}  (home {settings.home}; Ctrl-C to stop)")
        try:
            subprocess.run(cmd, env=os.environ.copy(), check=False)
        except KeyboardInterrupt:
            pass


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="entity config (YAML; see warehouse/resolve/README.md), or a built-in: person, enterprise, …")
@click.option("--input", "inputs", multiple=True, required=True, metavar="[TABLE=]FILE",
              help="Parquet or CSV file; TABLE= names the config input it feeds (default: the file's stem, then order)")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="clusters: record_id → entity id (Parquet)")
@click.option("--golden", type=click.Path(dir_okay=False), default=None, help="also write the golden records here")
@click.option("--state", type=click.Path(file_okay=False), default=None,
              help="keep ids stable across runs: the previous run's state is read from and saved to this folder")
def resolve(config_path: str, inputs: tuple[str, ...], out: str, golden: str | None, state: str | None) -> None:
    """Dedupe one table or link several with an entity config (the engine behind citybase's own entities)."""
    from citybase.resolve_cli import ResolveError, run_resolve

    try:
        summary = run_resolve(config_path, inputs, Path(out), Path(golden) if golden else None, Path(state) if state else None)
    except ResolveError as exc:
        console.print(f"[red]{exc}[/]")
        sys.exit(2)
    console.print(summary)


@main.group(name="district")
def district_group() -> None:
    """The synthetic district (the demo's data, the tests' fixture)."""


@district_group.command()
@click.option("--persons", default=20_000, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), required=True)
def generate(persons: int, seed: int, out: str) -> None:
    """Write a district: departmental systems, export files and ground truth."""
    import district

    summary = district.generate(Path(out), persons=persons, seed=seed)
    console.print_json(data=summary)


@district_group.command()
@home_option
def advance(home: str | None) -> None:
    """Let a month pass in the home's district: updated and new records, next month's exports."""
    import district

    from citybase.demo import deliver_exports

    settings = load_settings(home)
    changes = district.advance(settings.district_dir)
    delivered = deliver_exports(settings)
    console.print_json(data={**changes, "files_delivered": delivered})


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@home_option
def portal(host: str, port: int, home: str | None) -> None:
    """Serve the staff portal (一表通 download, upload, review) on this home."""
    import uvicorn

    from reports.portal.app import create_app

    settings = load_settings(home)
    if not (settings.home / "base" / "CURRENT").exists():
        console.print(f"[red]no published base library under {settings.home}: run citybase demo first[/]")
        sys.exit(2)
    console.print(f"一表通 staff portal: http://{host}:{port}  (home {settings.home}; Ctrl-C to stop)")
    uvicorn.run(create_app(settings.home), host=host, port=port, log_level="warning")


@main.command(name="account")
@click.argument("username")
@click.option("--org", "org_code", required=True, help="the org unit code the account acts for (网格/社区/街道/区)")
@click.option("--name", "display_name", required=True, help="the person's name as the portal shows it")
@click.password_option(help="at least 8 characters (asked for twice when not given)")
@home_option
def account(username: str, org_code: str, display_name: str, password: str, home: str | None) -> None:
    """Create or reset a staff portal account."""
    from reports.portal.accounts import Accounts, OrgTree
    from reports.prefill import open_library

    settings = load_settings(home)
    con = open_library(settings.home)
    try:
        tree = OrgTree.load(con)
    finally:
        con.close()
    if org_code not in tree.name:
        raise click.UsageError(f"no org unit {org_code!r} in the published base library")
    try:
        Accounts(settings.home).add(username, password, org_code, display_name)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    console.print(f"{username}: {tree.path(org_code) or tree.name[org_code]} ({tree.level[org_code]})")


from citybase.report_cli import report  # noqa: E402  (a group of its own module)

main.add_command(report)

if __name__ == "__main__":
    main()
