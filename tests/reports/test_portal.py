"""The staff portal's guarantees, over HTTP: who may see what (no IDOR), CSRF, sessions,
throttling, upload limits, the state machine, and an audit log free of personal data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from reports import forms
from reports.portal import accounts as accounts_module
from reports.portal.app import MAX_UPLOAD_BYTES, create_app
from reports.portal.demo import PASSWORD

PERIOD = "2026-10"
CARE = "key_population_care"


@pytest.fixture(scope="module")
def home(published_home) -> Path:
    return published_home


@pytest.fixture(scope="module")
def app(home):
    return create_app(home)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def login(app, username: str, password: str = PASSWORD, client: TestClient | None = None) -> TestClient:
    client = client or TestClient(app, client=("10.0.0.1", 50000))
    page = client.get("/login")
    response = client.post("/login", data={"csrf": _csrf(page.text), "username": username, "password": password, "next": "/"})
    assert response.status_code == 200, response.text[:300]
    return client


def _form_of(home: Path, username: str) -> forms.FormInstance:
    org = accounts_module.Accounts(home).get(username).org_code
    return forms.FormStore(home).get(forms.form_id(CARE, PERIOD, org))


def _other_grid_form(home: Path, username: str) -> forms.FormInstance:
    mine = _form_of(home, username)
    return next(f for f in forms.FormStore(home).list(CARE, PERIOD) if f.parent_code != mine.parent_code)


def test_pages_need_a_login(app):
    client = TestClient(app)
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert client.get("/district", follow_redirects=False).status_code == 303


def test_session_cookie_is_signed_httponly_and_samesite(app):
    client = TestClient(app)
    page = client.get("/login")
    response = client.post("/login", data={"csrf": _csrf(page.text), "username": "grid_worker", "password": PASSWORD},
                           follow_redirects=False)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert PASSWORD not in response.headers["set-cookie"]


def test_a_grid_worker_sees_only_their_grid_and_gets_404_for_another(app, home):
    client = login(app, "grid_worker")
    mine, other = _form_of(home, "grid_worker"), _other_grid_form(home, "grid_worker")
    listing = client.get("/").text
    assert mine.unit_name in listing and other.unit_name not in listing
    assert client.get(f"/forms/{mine.form_id}").status_code == 200
    for path in (f"/forms/{other.form_id}", f"/forms/{other.form_id}/download", "/forms/no-such-form"):
        response = client.get(path)
        assert response.status_code == 404 and "没有找到" in response.text
    token = _csrf(client.get(f"/forms/{mine.form_id}").text)
    response = client.post(f"/forms/{other.form_id}/upload", data={"csrf": token},
                           files={"workbook": ("x.xlsx", b"PK", "application/octet-stream")})
    assert response.status_code == 404
    response = client.post(f"/forms/{other.form_id}/review", data={"csrf": token, "action": "approve"})
    assert response.status_code == 404
    assert client.get("/district").status_code == 404 and client.get("/district/audit").status_code == 404


def test_a_reviewer_acts_only_on_units_under_them(app, home):
    client = login(app, "community_reviewer")
    mine = _form_of(home, "grid_worker")
    other = _other_grid_form(home, "grid_worker")
    assert client.get(f"/forms/{mine.form_id}").status_code == 200
    assert client.get(f"/forms/{other.form_id}").status_code == 404
    token = _csrf(client.get("/").text)
    # never submitted: cannot be approved
    response = client.post(f"/forms/{mine.form_id}/review", data={"csrf": token, "action": "approve"})
    assert response.status_code == 409 and "不能审核通过" in response.text
    assert forms.FormStore(home).get(mine.form_id).state == forms.ISSUED
    # and a reviewer does not file for the grid
    response = client.post(f"/forms/{mine.form_id}/upload", data={"csrf": token},
                           files={"workbook": ("x.xlsx", b"PK", "application/octet-stream")})
    assert response.status_code == 403


def test_state_changes_need_the_sessions_csrf_token(app, home):
    client = login(app, "community_reviewer")
    mine = _form_of(home, "grid_worker")
    for token in (None, "forged"):
        data = {"action": "approve"} | ({"csrf": token} if token else {})
        response = client.post(f"/forms/{mine.form_id}/review", data=data)
        assert response.status_code == 403 and "CSRF" in response.text
    stranger = TestClient(app)  # another browser's token is not this session's
    foreign = _csrf(stranger.get("/login").text)
    assert client.post("/logout", data={"csrf": foreign}).status_code == 403


def test_an_upload_over_the_limit_is_refused_while_streaming(app, home):
    client = login(app, "grid_worker")
    mine = _form_of(home, "grid_worker")
    token = _csrf(client.get(f"/forms/{mine.form_id}").text)
    sent = {"bytes": 0}

    def body():
        chunk = b"\0" * 2**20
        for _ in range(MAX_UPLOAD_BYTES // len(chunk) + 10):
            sent["bytes"] += len(chunk)
            yield chunk

    # no Content-Length: the limit must hold on the bytes as they arrive
    response = client.post(f"/forms/{mine.form_id}/upload", content=body(),
                           headers={"content-type": "multipart/form-data; boundary=x"})
    assert response.status_code == 413 and "MB" in response.text
    big = b"\0" * (MAX_UPLOAD_BYTES + 1)
    response = client.post(f"/forms/{mine.form_id}/upload", data={"csrf": token},
                           files={"workbook": ("big.xlsx", big, "application/octet-stream")})
    assert response.status_code == 413
    assert forms.FormStore(home).get(mine.form_id).state == forms.ISSUED


def test_a_hostile_or_foreign_upload_is_refused_and_nothing_stored(app, home):
    client = login(app, "grid_worker")
    mine = _form_of(home, "grid_worker")
    token = _csrf(client.get(f"/forms/{mine.form_id}").text)
    response = client.post(f"/forms/{mine.form_id}/upload", data={"csrf": token},
                           files={"workbook": ("x.xlsx", b"not a workbook at all", "application/octet-stream")})
    assert response.status_code == 422 and "未接收" in response.text
    # another grid's genuine workbook, uploaded on my form
    other = _other_grid_form(home, "grid_worker")
    response = client.post(f"/forms/{mine.form_id}/upload", data={"csrf": token},
                           files={"workbook": ("x.xlsx", (home / other.workbook).read_bytes(), "application/octet-stream")})
    assert response.status_code == 422 and "不是这张报表的工作簿" in response.text
    assert forms.FormStore(home).get(mine.form_id).state == forms.ISSUED
    assert not (home / "reports" / "received" / CARE / PERIOD / mine.unit_code).exists()


def test_logins_are_throttled_after_repeated_failures(app, home):
    accounts_module.Accounts(home).add("throttle_me", "right-password", _form_of(home, "grid_worker").unit_code, "测试")
    client = TestClient(app, client=("10.9.9.9", 1234))
    for _ in range(accounts_module.MAX_FAILURES):
        token = _csrf(client.get("/login").text)
        response = client.post("/login", data={"csrf": token, "username": "throttle_me", "password": "wrong"})
        assert response.status_code == 401 and "不正确" in response.text
    token = _csrf(client.get("/login").text)
    response = client.post("/login", data={"csrf": token, "username": "throttle_me", "password": "right-password"})
    assert response.status_code == 429 and "15 分钟" in response.text


def test_logout_ends_the_session(app):
    client = login(app, "grid_worker")
    token = _csrf(client.get("/").text)
    assert client.post("/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_no_open_redirect_after_login(app):
    client = TestClient(app)
    page = client.get("/login")
    response = client.post("/login", data={"csrf": _csrf(page.text), "username": "grid_worker", "password": PASSWORD,
                                           "next": "//evil.example/x"}, follow_redirects=False)
    assert response.headers["location"] == "/"


def test_the_audit_log_shows_who_did_what_without_personal_data(app, home):
    grid = login(app, "grid_worker")
    mine = _form_of(home, "grid_worker")
    assert grid.get(f"/forms/{mine.form_id}/download").status_code == 200
    district = login(app, "district_admin")
    page = district.get("/district/audit")
    assert page.status_code == 200 and "grid_worker" in page.text and "下载" in page.text
    issued = __import__("reports.generate", fromlist=["read_issued"]).read_issued(home, CARE, PERIOD, mine.unit_code)
    for text in issued["name__text"].drop_nulls().to_list()[:20] + issued["id_number__text"].drop_nulls().to_list()[:20]:
        assert text not in page.text
    assert "填报进度" in district.get("/district").text



def test_a_reviewer_sees_what_was_filed_and_downloads_the_submitted_workbook(app, home, tmp_path):
    import openpyxl

    from reports.template import get

    template = get(CARE)
    mine = _form_of(home, "grid_worker")
    wb = openpyxl.load_workbook(home / mine.workbook)
    ws = wb[template.sheet_name]
    first = template.layout.first_data_row + 1
    titles = {ws.cell(template.layout.first_data_row, c).value: c for c in range(1, ws.max_column + 1)}
    r = first
    while ws.cell(r, 1).value:
        if not str(ws.cell(r, 1).value).startswith("+"):  # blank rows for additions stay blank
            ws.cell(r, titles["走访次数"]).value = 0
            ws.cell(r, titles["关怀方式"]).value = "未联系上"
        r += 1
    ws.cell(r + 1, 3).value = "王网格"  # 填表人, the footer's first line
    out = tmp_path / "filled.xlsx"
    wb.save(out)
    grid = login(app, "grid_worker")
    token = _csrf(grid.get(f"/forms/{mine.form_id}").text)
    response = grid.post(f"/forms/{mine.form_id}/upload", data={"csrf": token},
                         files={"workbook": ("filled.xlsx", out.read_bytes(), "application/octet-stream")})
    assert response.status_code == 200 and "已接收" in response.text, response.text[-2000:]

    reviewer = login(app, "community_reviewer")
    page = reviewer.get(f"/forms/{mine.form_id}").text
    assert 'id="preview"' in page and "未联系上" in page and "下载已提交的工作簿" in page
    issued = __import__("reports.generate", fromlist=["read_issued"]).read_issued(home, CARE, PERIOD, mine.unit_code)
    for phone in issued["phone__text"].drop_nulls().to_list()[:20]:
        assert phone not in page  # personal columns masked in the preview
    submitted = reviewer.get(f"/forms/{mine.form_id}/submitted")
    assert submitted.status_code == 200 and submitted.content == out.read_bytes()
    other = _other_grid_form(home, "grid_worker")
    assert reviewer.get(f"/forms/{other.form_id}/submitted").status_code == 404
