"""The staff portal in a real browser (Debian's Chromium, driven by Playwright) against a live
server: a grid worker downloads the pre-filled care roster, fills it in with openpyxl as a person
would, uploads it through the page (upload.js: XHR and a progress bar), reads the error naming
the cell, fixes it and hands it in; the community reviewer returns it with a comment, the grid
worker resubmits, the reviewer approves, and the district admin's completeness page and summary
workbook count it. Another grid's form is a 404 page. Screenshots of the main pages, at desktop
and phone width, go to <repo>/test-artifacts/portal/ (kept by CI as artifacts)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from datetime import date
from pathlib import Path
from urllib.parse import quote

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from reports import forms
from reports.portal.accounts import Accounts
from reports.portal.app import create_app
from reports.portal.demo import PASSWORD
from reports.template import get, is_new_row

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or, under CI, fails) with the reason
    expect = None

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PERIOD = "2026-10"
CARE = "key_population_care"
CARE_TITLE = "重点人群关怀台账"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 20_000


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"CI requires the portal's browser test to run: {reason}")
    pytest.skip(reason)


# ---- the live server and the browser ----------------------------------------------------------

@pytest.fixture(scope="module")
def home(published_home) -> Path:
    return published_home


@pytest.fixture(scope="module")
def base_url(home):
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # a free port, held from here on: no race with another process
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(home), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="portal-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            pytest.fail("the portal's uvicorn server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        _unavailable("Chromium is not installed (apt-get install chromium); the portal's browser test needs it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(viewport=DESKTOP, base_url=base_url, locale="zh-CN", accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture(scope="module", autouse=True)
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# ---- helpers ------------------------------------------------------------------------------------

def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def phone_shot(page, name: str, check=None) -> None:
    """A screenshot at phone width; the body must not scroll sideways (tables scroll in .scroll).
    `check(page)` runs at that width too."""
    page.set_viewport_size(PHONE)
    try:
        page.wait_for_function(f"window.innerWidth === {PHONE['width']}")
        shot(page, name)
        if check:
            check(page)
        wide = page.evaluate("""() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
            culprits: [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.scroll'))
                .slice(0, 5).map(e => e.tagName + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''))})""")
        assert wide["scroll"] <= wide["inner"] + 1, f"{name}: the page overflows a phone's width: {wide}"
    finally:
        page.set_viewport_size(DESKTOP)


def message_in_view(page) -> None:
    """On a phone the error list wraps instead of hiding the message off to the right."""
    box = page.locator("#outcome table.problems tbody tr td").last.bounding_box()
    assert box and box["x"] + box["width"] <= PHONE["width"], f"the error message is off screen: {box}"


def login(page, username: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(lambda url: "/login" not in url)


def logout(page) -> None:
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login")


def has_state(page, state: str) -> None:
    expect(page.locator("#state")).to_have_text(state)


def upload(page, path: Path) -> str:
    """Choose the workbook and press 上传; upload.js posts it with XHR and writes the answer in."""
    page.set_input_files("#workbook", str(path))
    page.evaluate("document.documentElement.dataset.before = 'upload'")  # gone once the answer is written in
    page.click("#upload")
    outcome = page.locator("html:not([data-before]) #outcome")
    outcome.wait_for(state="visible")
    assert not page.url.endswith("/upload"), "the upload went through a plain form post, not upload.js"
    return outcome.inner_text()


def care_rows(ws, template) -> tuple[dict[str, int], list[int]]:
    """{column title: column number} and the data rows (1-based) of an issued care roster."""
    layout = template.layout
    titles = {ws.cell(r, c).value: c for r in range(layout.header_row + 1, layout.first_data_row + 1)
              for c in range(1, ws.max_column + 1) if ws.cell(r, c).value}
    rows, r = [], layout.first_data_row + 1
    while ws.cell(r, 1).value and not is_new_row(str(ws.cell(r, 1).value)):  # blank rows for additions stay blank
        rows.append(r)
        r += 1
    return titles, rows


def fill(downloaded: Path, out: Path, mistake_row: int | None = None) -> tuple[int, str | None]:
    """Fill the care roster as a grid worker would: visits, method, last visit date, signature.
    With `mistake_row`, that row's 走访次数 is 40 (over its maximum of 31). Returns the sum of the
    visits as they should be, and the mistaken cell's address."""
    template = get(CARE)
    wb = openpyxl.load_workbook(downloaded)
    ws = wb[template.sheet_name]
    titles, rows = care_rows(ws, template)
    assert rows, "the demo grid's care roster has nobody on it"
    total, bad = 0, None
    for i, r in enumerate(rows):
        n = (i % 4) + (1 if i % 7 == 0 else 0)  # 0–3 visits; now and then someone not reached
        total += n
        ws.cell(r, titles["走访次数"]).value = n
        ws.cell(r, titles["关怀方式"]).value = ("入户走访" if i % 2 else "电话问候") if n else "未联系上"
        if n:
            ws.cell(r, titles["最近走访日期"]).value = date(2026, 10, 1 + i % 28)
        if i == mistake_row:
            ws.cell(r, titles["走访次数"]).value = 40
            bad = f"{get_column_letter(titles['走访次数'])}{r}"
    sign = next(r for r in range(rows[-1] + 1, rows[-1] + 20) if str(ws.cell(r, 2).value or "").startswith("填表人"))
    ws.cell(sign, 3).value = "王网格"
    wb.save(out)
    return total, bad


# ---- the scenario -------------------------------------------------------------------------------

def test_file_return_resubmit_approve_and_sum_up_in_a_real_browser(page, home, tmp_path):
    store = forms.FormStore(home)
    grid = Accounts(home).get("grid_worker").org_code
    fid = forms.form_id(CARE, PERIOD, grid)
    mine = store.get(fid)
    assert mine is not None and mine.state == forms.ISSUED and mine.rows > 0
    other = next(f for f in store.list(CARE, PERIOD) if f.unit_code != grid)

    # -- the grid worker signs in and finds this month's care roster --------------------------------
    page.goto("/")
    page.wait_for_url("**/login?next=/")
    shot(page, "01-login")
    login(page, "grid_worker")
    row = page.locator("tr").filter(has_text=CARE_TITLE).filter(has_text=PERIOD)
    assert row.count() == 1
    assert row.locator(".state").inner_text().strip() == forms.ISSUED
    assert mine.unit_name in row.inner_text()
    shot(page, "02-form-list")
    phone_shot(page, "02-form-list-phone")

    # -- another grid's form and its download: a 404 page, as if it did not exist ---------------------
    for path in (f"/forms/{quote(other.form_id)}", f"/forms/{quote(other.form_id)}/download"):
        response = page.goto(path)
        assert response.status == 404, path
        assert "没有找到这张报表" in page.content()
        assert other.unit_name not in page.content()

    # -- open the form, download the pre-filled workbook -------------------------------------------
    page.goto("/")
    row = page.locator("tr").filter(has_text=CARE_TITLE).filter(has_text=PERIOD)
    row.get_by_role("link", name="查看").click()
    page.wait_for_url(f"**/forms/{quote(fid, safe='')}")
    has_state(page, forms.ISSUED)
    with page.expect_download() as info:
        page.click("#download")
    download = info.value
    assert download.suggested_filename.endswith(".xlsx") and CARE_TITLE in download.suggested_filename
    downloaded = tmp_path / "downloaded.xlsx"
    download.save_as(downloaded)

    # -- one mistake: the error names the cell and the column, nothing is accepted ------------------
    wrong, right = tmp_path / "wrong.xlsx", tmp_path / "right.xlsx"
    total, cell = fill(downloaded, wrong, mistake_row=min(2, mine.rows - 1))
    assert fill(downloaded, right) == (total, None)
    text = upload(page, wrong)
    assert "未接收" in text, text
    problem = page.locator("#outcome table.problems tbody tr")
    assert problem.count() == 1, text
    assert problem.locator("td.cell").inner_text().strip() == cell
    assert "走访次数" in problem.inner_text()
    has_state(page, forms.ISSUED)
    shot(page, "03-form-upload-error")
    phone_shot(page, "03-form-upload-error-phone", check=message_in_view)

    # -- fixed, uploaded again from the page upload.js wrote in: accepted ----------------------------
    text = upload(page, right)
    assert "已接收" in text, text
    has_state(page, forms.SUBMITTED)
    shot(page, "04-form-accepted")
    phone_shot(page, "04-form-accepted-phone")
    logout(page)

    # -- the community reviewer returns it with a comment -------------------------------------------
    login(page, "community_reviewer")
    row = page.locator("tr").filter(has_text=CARE_TITLE).filter(has_text=mine.unit_name)
    assert row.locator(".state").inner_text().strip() == forms.SUBMITTED
    row.get_by_role("link", name="查看").click()
    page.wait_for_url(f"**/forms/{quote(fid, safe='')}")
    assert page.locator("#approve").is_visible() and page.locator("#return").is_visible()
    assert page.locator("#upload-form").count() == 0  # a reviewer does not file for the grid
    shot(page, "05-reviewer-form")
    page.fill("#review-comment", "请补充走访日期")
    page.click("#return")
    has_state(page, forms.RETURNED)
    assert "请补充走访日期" in page.locator("#comment").inner_text()
    logout(page)

    # -- the grid worker sees the comment and resubmits -------------------------------------------
    login(page, "grid_worker")
    page.goto(f"/forms/{quote(fid)}")
    has_state(page, forms.RETURNED)
    assert "请补充走访日期" in page.locator("#comment").inner_text()
    shot(page, "06-form-returned")
    text = upload(page, right)
    assert "已接收" in text, text
    has_state(page, forms.SUBMITTED)
    assert store.get(fid).submissions == 2
    logout(page)

    # -- the community reviewer approves ----------------------------------------------------------
    login(page, "community_reviewer")
    page.goto(f"/forms/{quote(fid)}")
    page.click("#approve")
    has_state(page, forms.APPROVED)
    assert page.locator("#approve").count() == 0
    logout(page)

    # -- the district admin: completeness, and the summary workbook adds up -------------------------
    login(page, "district_admin")
    page.get_by_role("link", name="填报进度").click()
    page.wait_for_url("**/district")
    row = page.locator(f'#completeness tr[data-template="{CARE}"][data-period="{PERIOD}"]')
    assert row.count() == 1
    assert int(row.locator("td.submitted").inner_text()) >= 1
    assert int(row.locator("td.approved").inner_text()) >= 1
    shot(page, "07-district-completeness")
    with page.expect_download() as info:
        row.get_by_role("link", name="下载汇总表").click()
    summary = tmp_path / "summary.xlsx"
    info.value.save_as(summary)

    ws = openpyxl.load_workbook(summary)["汇总"]
    header = next(c for row_ in ws.iter_rows(max_row=8) for c in row_ if c.value == "走访次数")
    district = next(r for r in range(header.row + 1, ws.max_row + 1) if ws.cell(r, 2).value == "区")
    assert ws.cell(district, header.column).value == total  # only this grid has filed in this home
