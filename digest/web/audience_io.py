"""The audience's suppressions (with a lift), and CSV import and export from the browser (admin
only, CSRF-checked, audited): the same library calls, rules and report as `digest subscribers
import` / `export`.

The upload is the one route allowed a larger body (``IMPORT_MAX``, digest/web/app.py's
BodyLimit): Starlette spools the file to disk as it arrives, it is copied to a private temporary
file, and the importer streams it from there as the CLI does, never holding it whole. The
export streams too: ~1000 rows a chunk, read from the database as the download goes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from digest.errors import StoreError
from digest.i18n import N_
from digest.store import audit
from digest.store.csvio import CsvFormatError, open_subscriber_files
from digest.store.erasures import is_erased
from digest.store.imports import ImportReport, import_subscribers
from digest.store.search import suppressions_page
from digest.store.subscribers import export_stream, unsuppress
from digest.web.audience import back, known_list, message_of, titled_lists
from digest.web.pages import page, state
from digest.web.session import form_with_csrf, require_role

IMPORT_MAX = 200 * 1024 * 1024  # a Mailchimp ZIP of a million members is ~60 MB


async def suppressions(request: Request):
    require_role(request, "admin")
    found = await run_in_threadpool(
        suppressions_page, state(request).db, after=request.query_params.get("after")
    )
    more = f"?after={quote(found.next_after)}" if found.next_after else None
    return page(
        request,
        "audience_suppressions.html",
        {"found": found, "more": more, "message": message_of(request)},
    )


async def lift(request: Request):
    """Lift a suppression (a fixed bounce...). Never an erasure: only its hash is left, and the
    person asked to be forgotten, which nobody may undo for them."""
    user = require_role(request, "admin")
    form = await form_with_csrf(request)
    web = state(request)
    email = str(form.get("email", "")).strip()[:320]
    if not email or await run_in_threadpool(is_erased, web.db, email):
        raise HTTPException(400, N_("An erasure cannot be lifted."))
    if not await run_in_threadpool(unsuppress, web.db, email):
        raise HTTPException(404, N_("This address is not suppressed."))
    await run_in_threadpool(audit.record, web.db, user, "suppression-lift", email)
    return back(request, "/audience/suppressions", "lifted")


async def import_page(request: Request):
    require_role(request, "admin")
    known = await titled_lists(request)
    return page(request, "audience_import.html", {"lists": known, "report": None})


async def import_upload(request: Request):
    user = require_role(request, "admin")
    form = await form_with_csrf(request)
    web = state(request)
    list_name = str(form.get("list", ""))
    await known_list(request, list_name)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise HTTPException(400, N_("Choose a CSV or ZIP file to import."))
    title = web.config.list_config(list_name).title
    try:
        report = await run_in_threadpool(_import, web.db, list_name, upload, title)
    except CsvFormatError as exc:
        known = await titled_lists(request)
        return page(
            request,
            "audience_import.html",
            {"lists": known, "report": None, "error": str(exc)},
            status=400,
        )
    summary = f"{upload.filename}: {report.added} added, {report.total_rejected} rejected"
    await run_in_threadpool(audit.record, web.db, user, "subscribers-import", list_name, summary)
    known = await titled_lists(request)
    return page(request, "audience_import.html", {"lists": known, "report": report})


def _import(db, list_name: str, upload: UploadFile, title: str | None) -> ImportReport:
    """Copy the spooled upload to a private file, then stream the import from it (the CLI's
    path: open_subscriber_files on a path reads row by row)."""
    handle, path = tempfile.mkstemp(prefix="digest-import-", suffix=".csv")  # mode 0600
    try:
        with os.fdopen(handle, "wb") as out:
            upload.file.seek(0)
            shutil.copyfileobj(upload.file, out, 1 << 20)
        return import_subscribers(db, list_name, open_subscriber_files(path), title=title)
    finally:
        os.unlink(path)


async def export(request: Request):
    user = require_role(request, "admin")
    web = state(request)
    list_name = request.query_params.get("list", "")
    try:
        chunks = await run_in_threadpool(export_stream, web.db, list_name, bom=True)
    except StoreError:
        raise HTTPException(404, N_("There is no such list.")) from None
    await run_in_threadpool(audit.record, web.db, user, "subscribers-export", list_name)
    filename = quote(f"{list_name}.csv")
    return StreamingResponse(
        chunks,  # a plain iterator: Starlette reads it in a worker thread, chunk by chunk
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )


routes = [
    Route("/audience/suppressions", suppressions),
    Route("/audience/suppressions/lift", lift, methods=["POST"]),
    Route("/audience/import", import_page),
    Route("/audience/import", import_upload, methods=["POST"]),
    Route("/audience/export", export),
]
