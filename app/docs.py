"""``/docs`` and ``/redoc`` with their scripts served by the service itself (intranets
are offline), and an OpenAPI document client generators accept.

The Swagger UI (Apache-2.0) and ReDoc (MIT) builds come from the
``fastapi-offline`` package (MIT), a dependency: this module serves the files
that package installs, it does not copy them.
"""

import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute

from app.deps import bearer_token, get_caller, get_session
from app.errors import PROBLEM, PROBLEM_RESPONSES, FieldError, Problem
from app.links import API_PREFIX

ASSETS = "/docs-assets"
BEARER = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (machines), or a person's access token from the "
        "organisation's OpenID Connect provider.",
    }
}


ETAG_HEADER = {
    "ETag": {
        "description": 'The item\'s version, quoted ("4"); send it back as If-Match.',
        "schema": {"type": "string"},
    }
}
LOCATION_HEADER = {
    "Location": {"description": "Where the created resource is.", "schema": {"type": "string"}}
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
BINARY = {"type": "string", "format": "binary"}
ITEM_REF = "#/components/schemas/ItemPublic"


# Bodies of endpoints that build their JSON themselves (documented here, so
# client generators get a type for every 2xx answer).
class Extension(BaseModel):
    id: int
    item_id: int
    status: str
    due_date: date
    previous_due_date: date | None
    reason: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    comment: str | None


class ExtensionList(BaseModel):
    data: list[Extension]


class ImportError_(BaseModel):
    row: int | None
    field: str | None
    message: str


class ImportResult(BaseModel):
    """``updated`` / ``unchanged`` with ``mode=upsert``; a dry run's ``would_*``."""

    created: int
    updated: int | None = None
    unchanged: int | None = None
    assigned: int | None = None
    dry_run: bool | None = None
    would_create: int | None = None
    would_update: int | None = None
    would_assign: int | None = None
    errors: list[ImportError_]


class Figures(BaseModel):
    total: int
    open: int
    closed: int
    rectified: int
    overdue: int
    rectification_rate: float | None
    on_time_rate: float | None


class Summary(Figures):
    by_state: dict[str, int]
    by_light: dict[str, int] = Field(
        description="Items by light (green, yellow, red, paused, none), every light listed"
    )


class UnitFigures(Figures):
    unit_code: str | None
    name: str


class UnitReport(BaseModel):
    data: list[UnitFigures]


class PeriodFigures(BaseModel):
    new: int
    closed: int
    rectified: int
    open_at_end: int
    overdue_at_end: int
    cumulative_rectified: int
    rectification_rate: float | None
    on_time_rate: float | None
    satisfaction_rate: float | None
    redo: int


class PeriodSubgroup(PeriodFigures):
    key: str | None
    label: str
    rank: int | None = None


class PeriodGroup(PeriodSubgroup):
    """``children`` (ranked) with ``group=unit``."""

    children: list[PeriodSubgroup] | None = None


class PeriodReport(BaseModel):
    from_: date = Field(alias="from")
    to: date
    group: str
    groups: list[PeriodGroup]
    totals: PeriodFigures


class CircularItem(BaseModel):
    id: int
    number: str | None
    title: str
    due_date: date | None
    workdays_overdue: int
    level: int


class CircularUnit(BaseModel):
    unit_code: str | None
    name: str
    items: list[CircularItem]


class Circular(BaseModel):
    min_level: int
    data: list[CircularUnit]
    total: int
    truncated: bool


class ScanResult(BaseModel):
    checked: int
    fired: dict[str, int]


class Readiness(BaseModel):
    status: str
    detail: dict


def _json(model: type[BaseModel]) -> dict:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}


MODELS: tuple[type[BaseModel], ...] = (
    FieldError,
    Problem,
    Extension,
    ExtensionList,
    ImportError_,
    ImportResult,
    Summary,
    UnitFigures,
    UnitReport,
    PeriodFigures,
    PeriodSubgroup,
    PeriodGroup,
    PeriodReport,
    CircularItem,
    CircularUnit,
    Circular,
    ScanResult,
    Readiness,
)
RESPONSES: dict[str, dict[str, dict]] = {
    "import_items": {
        "200": {"description": "Dry run: what would be created", "content": _json(ImportResult)},
        "201": {
            "description": "Created",
            "content": _json(ImportResult),
            "headers": LOCATION_HEADER,
        },
    },
    "export_items": {
        "200": {
            "description": "The ledger",
            "content": {XLSX: {"schema": BINARY}, "text/csv": {"schema": {"type": "string"}}},
        }
    },
    "download_evidence": {
        "200": {
            "description": "The file, with the content type recorded at upload",
            "content": {"application/octet-stream": {"schema": BINARY}},
        }
    },
    "report_summary": {"200": {"description": "Figures", "content": _json(Summary)}},
    "report_units": {"200": {"description": "One row per unit", "content": _json(UnitReport)}},
    "report_period": {
        "200": {
            "description": "The period's figures (月度调度): json, xlsx or docx",
            "content": {**_json(PeriodReport), XLSX: {"schema": BINARY}, DOCX: {"schema": BINARY}},
        }
    },
    "report_circular": {
        "200": {
            "description": "The units and their items at the level (通报): json or docx",
            "content": {**_json(Circular), DOCX: {"schema": BINARY}},
        }
    },
    "request_extension": {"201": {"description": "Requested", "content": _json(Extension)}},
    "list_extensions": {"200": {"description": "The item's", "content": _json(ExtensionList)}},
    "get_extension": {"200": {"description": "The request", "content": _json(Extension)}},
    "approve_extension": {"200": {"description": "Decided", "content": _json(Extension)}},
    "reject_extension": {"200": {"description": "Decided", "content": _json(Extension)}},
    "escalate": {
        "200": {
            "description": "The item",
            "content": {"application/json": {"schema": {"$ref": ITEM_REF}}},
        }
    },
    "tick": {"200": {"description": "One scan", "content": _json(ScanResult)}},
    "readyz": {
        "200": {"description": "Ready", "content": _json(Readiness)},
        "503": {
            "description": "Not ready: what failed in its detail, every check in its checks",
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        },
    },
    "get_item": {"304": {"description": "Not modified: If-None-Match names the current ETag"}},
}


def operation_id(route: APIRoute) -> str:
    """Short operation ids: the endpoint's function name (``create_item``); unique,
    checked when the document is built."""
    return route.name


def install_docs(app: FastAPI) -> None:
    """Serve the docs pages and their assets; the app is made with no docs URLs."""
    assets = Path(str(files("fastapi_offline") / "static"))
    app.mount(ASSETS, StaticFiles(directory=assets), name="docs-assets")
    title = f"{app.title} API"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon.png",
            with_google_fonts=False,
        )


def _binary_uploads(node: object) -> None:
    """OpenAPI 3.1 ``contentMediaType`` strings, as 3.0's ``format: binary`` too: what
    generators read to type a multipart file part as a file."""
    if isinstance(node, dict):
        if node.get("type") == "string" and "contentMediaType" in node:
            node["format"] = "binary"
        for value in node.values():
            _binary_uploads(value)
    elif isinstance(node, list):
        for value in node:
            _binary_uploads(value)


def _is_item(response: dict) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref", "").endswith("/ItemPublic")


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def problem_statuses(route: APIRoute) -> set[int]:
    """The error statuses ``route`` can answer, derived from what it takes:

    - a bearer token (``deps.bearer_token``): 401, 403 (role, unit scope, a person's
      token without a role) and 503 (the token is checked in the database);
    - a database session: 503; a path parameter (an id, a code, a date): 404;
    - query parameters, a body, or a GET through ``deps.get_caller`` (which refuses
      unknown query parameters): 400; a body: 413 and 422;
    - an ``If-Match`` header: 412;

    plus what the route declares itself (``errors.problems``: a state or duplicate
    409, a 404 without a path id)."""
    dependants = list(_dependants(route.dependant))
    calls = {d.call for d in dependants if d.call is not None}
    body = route.body_field is not None or "requestBody" in (route.openapi_extra or {})
    headers = {p.alias.lower() for d in dependants for p in d.header_params}
    found: set[int] = set()
    if bearer_token in calls:
        found |= {401, 403, 503}
    if get_session in calls:
        found.add(503)
    if any(d.path_params for d in dependants):
        found.add(404)
    if body or any(d.query_params for d in dependants):
        found.add(400)
    # APIRoute always sets ``methods`` (``{"GET"}`` when none is given); only its type allows None.
    if get_caller in calls and "GET" in (route.methods or ()):
        found.add(400)
    if body:
        found |= {413, 422}
    if "if-match" in headers:
        found.add(412)
    declared = {int(status) for status in route.responses if str(status).isdigit()}
    return found | {status for status in declared if status >= 400}


def _routes_by_operation(routes: Sequence[BaseRoute]) -> dict[str, APIRoute]:
    found = {}
    for context in iter_route_contexts(routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            found[operation_id(route)] = route
    return found


def _document_problems(operation: dict, statuses: set[int]) -> None:
    """Make the operation's error responses exactly ``statuses`` (FastAPI's own
    "422 Validation Error" included: query and path errors are 400 and 404 here)."""
    responses = operation.setdefault("responses", {})
    for status in [s for s in responses if s.isdigit() and int(s) >= 400]:
        if int(status) not in statuses:
            del responses[status]
    for status in sorted(statuses):
        doc = PROBLEM_RESPONSES[status]
        responses[str(status)] = {
            "description": doc["description"],
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }


def finish_document(schema: dict, routes: Sequence[BaseRoute] = ()) -> dict:
    """Declare the bearer scheme, the bodies endpoints build themselves, the ETag and
    Location headers, binary uploads, each operation's error statuses
    (``problem_statuses`` of its route); check the operation ids are unique."""
    by_operation = _routes_by_operation(routes)
    components = schema.setdefault("components", {})
    components["securitySchemes"] = BEARER
    for model in MODELS:
        components.setdefault("schemas", {})[model.__name__] = model.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
    seen: dict[str, str] = {}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            op_id = operation.get("operationId")
            if op_id in seen:
                raise RuntimeError(f"operationId {op_id!r} of {method} {path} is not unique")
            seen[op_id] = path
            if path.startswith(API_PREFIX):
                operation["security"] = [{"bearer": []}]
            responses = operation.setdefault("responses", {})
            route = by_operation.get(op_id)
            if route is not None:
                _document_problems(operation, problem_statuses(route))
            for status, documented in RESPONSES.get(op_id, {}).items():
                responses.setdefault(status, {}).update(documented)
            if "201" in responses and "200" in responses and op_id != "import_items":
                del responses["200"]
            for status, response in responses.items():
                if status.startswith("2") and _is_item(response):
                    response.setdefault("headers", {}).update(ETAG_HEADER)
                if status == "201":
                    response.setdefault("headers", {}).update(LOCATION_HEADER)
    _binary_uploads(schema.get("components", {}).get("schemas", {}))
    _drop_unused_validation_schemas(schema)
    return schema


def _drop_unused_validation_schemas(schema: dict) -> None:
    """FastAPI's ``HTTPValidationError`` (its 422 for parameters, replaced above by
    the 400/404 this service answers) once nothing refers to it any more."""
    schemas = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{name}" not in json.dumps(schema):
            schemas.pop(name, None)
