"""The staff portal: grid, community, street and district staff download their pre-filled
一表通 workbooks, hand them back, review them — never seeing anything outside their unit.

Server-rendered (FastAPI + Jinja2), no front-end build. It reads the published base library
(the org tree) and the form store; it writes only through `reports.intake.ingest` and the
form store's state transitions, which log every action (the audit log).

Every request is scoped to the user's org unit and its descendants: a form outside it is a
404, exactly like a form that does not exist.
"""

from __future__ import annotations

import hmac
import os
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import polars as pl
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from reports import forms, intake, returns, rollup
from reports.portal.accounts import Account, Accounts, OrgTree
from reports.prefill import open_library
from reports.template import TemplateError, get, period_label, templates

HERE = Path(__file__).resolve().parent
MAX_UPLOAD_BYTES = 20 * 2**20
CHINA = timezone(timedelta(hours=8))
LEVEL_ROLE = {"网格": "网格员", "社区": "社区审核人", "街道": "街道审核人", "区": "区级管理员"}


class UploadLimit:
    """Refuse an upload body past the limit while it streams in, not after it has been read:
    Content-Length checked up front, the bytes counted as they arrive otherwise."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith("/upload"):
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await _too_large(send)
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await _too_large(send)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send) -> None:
    body = f"上传的文件超过 {MAX_UPLOAD_BYTES // 2**20} MB，不予接收".encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _secret(home: Path) -> str:
    """Session signing key: CITYBASE_PORTAL_SECRET, else one created once under the home."""
    if os.environ.get("CITYBASE_PORTAL_SECRET"):
        return os.environ["CITYBASE_PORTAL_SECRET"]
    path = home / "portal" / "session.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def local_time(stamp: str | None) -> str:
    if not stamp:
        return ""
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def create_app(home: Path, *, secure_cookies: bool = False) -> FastAPI:
    home = Path(home)
    app = FastAPI(title="citybase 一表通", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SessionMiddleware, secret_key=_secret(home), session_cookie="citybase_session",
                       same_site="strict", https_only=secure_cookies, max_age=8 * 3600)
    app.add_middleware(UploadLimit, limit=MAX_UPLOAD_BYTES)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    pages = Jinja2Templates(directory=HERE / "templates")
    pages.env.filters["local"] = local_time
    accounts = Accounts(home)
    store = forms.FormStore(home)
    state: dict = {}

    def org() -> OrgTree:
        # The org tree of the published library, re-read when a newer snapshot is current.
        current = (home / "base" / "CURRENT").read_text().strip() if (home / "base" / "CURRENT").exists() else ""
        if state.get("version") != current or "org" not in state:
            con = open_library(home)
            try:
                state["org"] = OrgTree.load(con)
            finally:
                con.close()
            state["version"] = current
        return state["org"]

    def user_of(request: Request) -> Account | None:
        name = request.session.get("user")
        return accounts.get(name) if name else None

    def csrf(request: Request) -> str:
        if "csrf" not in request.session:
            request.session["csrf"] = secrets.token_urlsafe(32)
        return request.session["csrf"]

    def check_csrf(request: Request, token: str | None) -> None:
        expected = request.session.get("csrf")
        if not expected or not token or not hmac.compare_digest(expected, token):
            raise HTTPException(403, "页面已过期或请求来源不明（CSRF 校验失败），请刷新页面后重试")

    def origin(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def form_in_scope(user: Account, fid: str) -> forms.FormInstance:
        """The form, if the user's unit covers it; 404 otherwise (never a hint that it exists)."""
        form = store.get(fid)
        if form is None or not org().within(form.unit_code, user.org_code):
            raise HTTPException(404, "没有找到这张报表")
        return form

    def render(request: Request, name: str, user: Account | None, status: int = 200, **context) -> HTMLResponse:
        tree = org() if user else None
        return pages.TemplateResponse(request, name, status_code=status, context={
            "user": user, "csrf": csrf(request), "tree": tree, "labels": forms.ACTION_LABELS,
            "role": LEVEL_ROLE.get(tree.level.get(user.org_code), "") if user and tree else "",
            "state_class": {forms.ISSUED: "issued", forms.SUBMITTED: "submitted", forms.RETURNED: "returned",
                            forms.APPROVED: "approved"}, **context})

    def need_user(request: Request) -> Account:
        user = user_of(request)
        if user is None:
            raise _Login()
        return user

    @app.exception_handler(_Login)
    async def _to_login(request: Request, exc: _Login):
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    @app.exception_handler(HTTPException)
    async def _error(request: Request, exc: HTTPException):
        return render(request, "error.html", user_of(request), status=exc.status_code, message=exc.detail)

    # ---- sign in / out -----------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, next: str = "/"):
        return render(request, "login.html", None, next=_safe_next(next), error=None)

    @app.post("/login")
    async def login(request: Request):
        data = await request.form()
        check_csrf(request, data.get("csrf"))
        username, password = str(data.get("username", "")).strip(), str(data.get("password", ""))
        nxt = _safe_next(str(data.get("next", "/")))
        if accounts.throttled(username, origin(request)):
            return render(request, "login.html", None, status=429, next=nxt, error="登录失败次数过多，请 15 分钟后再试")
        user = accounts.authenticate(username, password, origin(request))
        if user is None:
            return render(request, "login.html", None, status=401, next=nxt, error="用户名或密码不正确")
        request.session.clear()  # a fresh session (and CSRF token) on every sign-in
        request.session["user"] = user.username
        return RedirectResponse(nxt, status_code=303)

    @app.post("/logout")
    async def logout(request: Request):
        data = await request.form()
        check_csrf(request, data.get("csrf"))
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # ---- forms -------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    async def home_page(request: Request, period: str | None = None):
        user = need_user(request)
        tree = org()
        every = store.list()
        periods = sorted({f.period for f in every}, reverse=True)
        period = period or (periods[0] if periods else None)
        mine = [f for f in every if f.period == period and tree.within(f.unit_code, user.org_code)]
        titles = {t.id: t.title for t in templates().values()}
        own = [f for f in mine if f.unit_code == user.org_code]
        below = [f for f in mine if f.unit_code != user.org_code]
        return render(request, "forms.html", user, own=own, below=below, titles=titles, period=period, periods=periods,
                      is_district=tree.level.get(user.org_code) == "区")

    @app.get("/forms/{fid}", response_class=HTMLResponse)
    async def form_page(request: Request, fid: str):
        user = need_user(request)
        form = form_in_scope(user, fid)
        return _form_view(request, user, form, outcome=None)

    def _form_view(request: Request, user: Account, form: forms.FormInstance, outcome, status: int = 200):
        tree = org()
        template = _template_or_none(form.template_id)
        events = [e for e in store.events(form.form_id)]
        preview = _return_preview(home, template, form) if template and form.submissions else None
        return render(request, "form.html", user, status=status, form=form, template=template, outcome=outcome,
                      preview=preview, has_return=_received(home, form) is not None,
                          label=period_label(template.period, form.period) if template else form.period,
                          can_upload=form.unit_code == user.org_code and form.state in (forms.ISSUED, forms.RETURNED),
                          can_review=tree.below(form.unit_code, user.org_code) and form.state == forms.SUBMITTED,
                          events=events, max_mb=MAX_UPLOAD_BYTES // 2**20)

    @app.get("/forms/{fid}/download")
    async def download(request: Request, fid: str):
        user = need_user(request)
        form = form_in_scope(user, fid)
        path = home / form.workbook
        if not path.is_file():
            raise HTTPException(404, "工作簿文件不存在，请联系区级管理员重新下发")
        store.log(form.form_id, "download", user.username, origin(request))
        return _workbook(path, f"{form.unit_name}_{form.period}_{_template_title(form.template_id)}.xlsx")

    @app.get("/forms/{fid}/submitted")
    async def download_submitted(request: Request, fid: str):
        """The workbook as the unit last handed it in: what a reviewer reviews."""
        user = need_user(request)
        form = form_in_scope(user, fid)
        path = _received(home, form)
        if path is None:
            raise HTTPException(404, "这张报表还没有提交过")
        store.log(form.form_id, "download_submitted", user.username, origin(request))
        return _workbook(path, f"{form.unit_name}_{form.period}_{_template_title(form.template_id)}_已提交.xlsx")

    @app.post("/forms/{fid}/upload")
    async def upload(request: Request, fid: str):
        user = need_user(request)
        form = form_in_scope(user, fid)
        data = await request.form(max_files=1, max_fields=5)
        check_csrf(request, data.get("csrf"))
        if form.unit_code != user.org_code:
            raise HTTPException(403, "只有本单位的填报人可以提交这张报表")
        file = data.get("workbook")
        if file is None or not hasattr(file, "read"):
            return _form_view(request, user, form, outcome=_refusal("请选择要上传的工作簿（.xlsx）"), status=400)
        content = await file.read()
        outcome = intake.ingest(home, content, name=os.path.basename(file.filename or "工作簿.xlsx"),
                                actor=user.username, origin=origin(request), expect_form_id=form.form_id)
        form = store.get(form.form_id)
        return _form_view(request, user, form, outcome=outcome, status=200 if outcome.accepted else 422)

    @app.post("/forms/{fid}/review")
    async def review(request: Request, fid: str):
        user = need_user(request)
        form = form_in_scope(user, fid)
        data = await request.form()
        check_csrf(request, data.get("csrf"))
        if not org().below(form.unit_code, user.org_code):
            raise HTTPException(403, "只有上级单位可以审核这张报表")
        action, comment = str(data.get("action", "")), str(data.get("comment", "")).strip() or None
        if action not in ("approve", "return"):
            raise HTTPException(400, "未知的审核操作")
        if action == "return" and not comment:
            return _form_view(request, user, form, outcome=_refusal("退回时请写明需要修改的内容"), status=400)
        try:
            store.transition(form.form_id, action, user.username, origin(request), comment)
        except forms.StateError as exc:
            return _form_view(request, user, form, outcome=_refusal(str(exc)), status=409)
        return RedirectResponse(f"/forms/{quote(form.form_id)}", status_code=303)

    # ---- district ----------------------------------------------------------------------------
    def need_district(request: Request) -> Account:
        user = need_user(request)
        if org().level.get(user.org_code) != "区":
            raise HTTPException(404, "没有找到这个页面")
        return user

    @app.get("/district", response_class=HTMLResponse)
    async def district(request: Request):
        user = need_district(request)
        found = store.list()
        table = rollup.completeness(found).to_dicts() if found else []
        titles = {t.id: t.title for t in templates().values()}
        return render(request, "district.html", user, rows=table, titles=titles)

    @app.get("/district/summary/{template_id}/{period}")
    async def summary(request: Request, template_id: str, period: str):
        user = need_district(request)
        template = _template_or_none(template_id)
        if template is None or not store.list(template_id, period):
            raise HTTPException(404, "没有这张报表的这一期")
        path = rollup.export(home, template, period)
        store.log(f"{template_id}:{period}", "summary", user.username, origin(request))
        return _workbook(path, f"{template.title}汇总_{period}.xlsx")

    @app.get("/district/audit", response_class=HTMLResponse)
    async def audit(request: Request):
        user = need_district(request)
        events = list(reversed(store.events()))[:500]
        return render(request, "audit.html", user, events=events)

    return app


class _Login(Exception):
    """Not signed in: to the login page."""


def _safe_next(target: str) -> str:
    """Only a path on this site (no //host, no scheme): no open redirect after login."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def _template_or_none(template_id: str):
    try:
        return get(template_id)
    except TemplateError:
        return None


def _template_title(template_id: str) -> str:
    t = _template_or_none(template_id)
    return t.title if t else template_id


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _workbook(path: Path, name: str) -> FileResponse:
    return FileResponse(path, media_type=XLSX, filename=name)


def _received(home: Path, form: forms.FormInstance) -> Path | None:
    """The newest workbook the unit handed in for this form (file names start with the UTC stamp)."""
    folder = home / "reports" / "received" / form.template_id / form.period / form.unit_code
    files = sorted(folder.glob("*.xlsx")) if folder.is_dir() else []
    return files[-1] if files else None


PREVIEW_ROWS = 50


def _return_preview(home: Path, template, form: forms.FormInstance) -> dict | None:
    """The editable columns of the last return, first rows, personal data masked: enough for a
    reviewer to see what was filed without opening the workbook."""
    from warehouse.masking import mask_frame

    values = returns.read(home, template, form.period, [form.unit_code])
    if values is None:
        return None
    shown = [c for c in template.columns if c.editable and c.id in values.columns]
    # the row's name for a reader: the first plain text column that is not personal data
    label = next((c for c in template.columns if not c.editable and not c.is_personal and c.type in ("text", "choice")), None)
    head = values.head(PREVIEW_ROWS)
    frame = mask_frame(head.select(pl.col(c.id).cast(pl.String) for c in shown),
                       {c.id: "phone" if c.type == "phone" else "name" for c in shown if c.is_personal})
    labels = head[label.id].cast(pl.String).to_list() if label else [str(i + 1) for i in range(head.height)]
    return {"titles": [label.title if label else "序号", *(c.title for c in shown)],
            "rows": [[labels[i], *row] for i, row in enumerate(frame.rows())], "total": values.height}


def _refusal(message: str) -> intake.Outcome:
    return intake.Outcome(False, [intake.Problem("request", message)])
