"""Operations endpoints: liveness, readiness."""

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.deadlines.calendar import fallback_years
from app.errors import RETRY_AFTER_S, problem_response
from app.migrate import current_revision, head_revision
from app.preflight import directory_problem
from app.settings import get_settings

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


def _migrations(request: Request, conn) -> dict:
    """The schema's revision against head. Checked until it is at head, then
    remembered: a probe does not re-run the migration check."""
    state = request.app.state
    known = getattr(state, "migrations_at_head", None)
    if known is not None:
        return known
    found = {"current": current_revision(conn), "head": head_revision()}
    if found["current"] == found["head"]:
        state.migrations_at_head = found
    return found


def _years_with_overrides(request: Request) -> set[int]:
    """Years an admin gave data for (a loaded schedule): no longer fallback years."""
    try:
        with request.app.state.engine.connect() as conn:
            days = conn.execute(text("SELECT day FROM calendar_override")).scalars()
            return {(d if isinstance(d, date) else date.fromisoformat(d)).year for d in days}
    except Exception:  # noqa: BLE001 - readiness reports, never raises
        return set()


@router.get("/readyz")
def readyz(request: Request):
    detail: dict = {}
    ready = True
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            migrations = _migrations(request, conn)
        detail["database"] = "ok"
        detail["migrations"] = migrations
        if migrations["current"] != migrations["head"]:
            ready = False
    except Exception as exc:  # noqa: BLE001 - readiness reports, never raises
        ready = False
        detail["database"] = f"unreachable: {type(exc).__name__}"
    problem = directory_problem(get_settings().evidence_dir)
    detail["evidence"] = f"not writable: {problem}" if problem else "ok"
    ready = ready and problem is None
    years = sorted(fallback_years() - _years_with_overrides(request))
    if years:
        detail["calendar"] = {
            "fallback_years": years,
            "warning": "no statutory holiday data for these years; Monday-Friday is used",
        }
    if ready:
        return JSONResponse({"status": "ready", "detail": detail})
    # A 5xx like every other: problem+json (API.md), what failed under ``checks``.
    checked = ("database", "evidence")
    failed = [f"{name}: {detail[name]}" for name in checked if detail[name] != "ok"]
    revisions = detail.get("migrations")
    if revisions and revisions["current"] != revisions["head"]:
        failed.append(f"migrations: at {revisions['current']}, head {revisions['head']}")
    return problem_response(
        503,
        "Not ready",
        "; ".join(failed),
        "not-ready",
        headers={"Retry-After": str(RETRY_AFTER_S)},
        checks=detail,
    )
