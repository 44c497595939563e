"""Operations endpoints: liveness, readiness."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.deadlines.calendar import fallback_years
from app.migrate import current_revision, head_revision

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request):
    detail: dict = {}
    ready = True
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = current_revision(conn)
        detail["database"] = "ok"
        head = head_revision()
        detail["migrations"] = {"current": current, "head": head}
        if current != head:
            ready = False
    except Exception as exc:  # noqa: BLE001 - readiness reports, never raises
        ready = False
        detail["database"] = f"unreachable: {type(exc).__name__}"
    years = sorted(fallback_years())
    if years:
        detail["calendar"] = {
            "fallback_years": years,
            "warning": "no statutory holiday data for these years; Monday-Friday is used",
        }
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "detail": detail},
        status_code=200 if ready else 503,
    )
