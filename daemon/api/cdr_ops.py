"""The API's reading of what is stored: ``cdr.list``, ``cdr.page`` and ``cdr.export_csv`` (integrator)
and ``audit.list`` (admin), a page at a time, read on a worker thread once the writes before the
request are committed (so a CDR the box has finished is in the next page asked for)."""

from __future__ import annotations

import asyncio
from typing import Any

from daemon.api.host import OpsHost
from daemon.api.paging import LIST_MAX, Page, take_page
from daemon.api.roles import ADMIN, INTEGRATOR
from daemon.api.schema import TIME, Bool, Bytes, Int, Opt
from daemon.api.server import ApiServer
from daemon.store.cdr_csv import cdrs_to_csv

CSV_PAGE_MAX = 5000  # CDRs per cdr.export_csv page at most (and fewer if their CSV would pass PAGE_BYTES)
CURSOR = Bytes(12, min_len=12)  # a page's ``next``


def cdr_args(default_limit: int, max_limit: int = LIST_MAX, newest_first: bool = True) -> dict:
    """The arguments of the CDR listing ops (``cdr.list``, ``cdr.page``, ``cdr.export_csv``)."""
    fields = {"since": Opt(TIME), "until": Opt(TIME), "limit": Opt(Int(1, max_limit), default_limit),
              "cursor": Opt(CURSOR)}
    if newest_first:
        fields["newest_first"] = Opt(Bool(), False)
    return fields


def register(api: ApiServer, host: OpsHost) -> None:
    async def scan_page(db: Any, req: dict, reverse: bool, **page: Any) -> Page:
        """A page of a time-keyed table (``req``: since, until, limit, cursor)."""
        await host.writer.flushed()
        return await asyncio.to_thread(lambda: take_page(
            host.store.scan(db, req.get("since"), req.get("until"), reverse, req["cursor"]), req["limit"], **page))

    async def cdr_list(req: dict) -> Page:
        return await scan_page(host.store.cdr, req, req["newest_first"])

    async def cdr_page(req: dict) -> dict:
        page = await scan_page(host.store.cdr, req, req["newest_first"])
        return {"cdrs": page.items, "next": page.next}

    async def cdr_export_csv(req: dict) -> dict:
        zone = host.config.utc_offset_min
        page = await scan_page(host.store.cdr, req, False,
                               size_of=lambda row: len(cdrs_to_csv([row], header=False, utc_offset_min=zone)))
        text = await asyncio.to_thread(cdrs_to_csv, page.items, header=req["cursor"] is None, utc_offset_min=zone)
        return {"csv": text, "rows": len(page.items), "next": page.next}

    async def audit_list(req: dict) -> Page:
        return await scan_page(host.store.audit, req, True)

    api.op("cdr.list", cdr_list, roles=INTEGRATOR, args=cdr_args(50))
    api.op("cdr.page", cdr_page, roles=INTEGRATOR, args=cdr_args(100))
    api.op("cdr.export_csv", cdr_export_csv, roles=INTEGRATOR,
           args=cdr_args(CSV_PAGE_MAX, CSV_PAGE_MAX, newest_first=False))
    api.op("audit.list", audit_list, roles=ADMIN, args={"limit": Opt(Int(1, LIST_MAX), 100), "cursor": Opt(CURSOR)})
