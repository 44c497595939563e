"""ETags of versioned resources: the version, quoted; weak tags compare equal."""

from fastapi.responses import JSONResponse, Response


def etag(version: int) -> str:
    return f'"{version}"'


def matches(version: int, header: str) -> bool:
    """Whether an ``If-Match`` / ``If-None-Match`` list names this version (or ``*``)."""
    tags = [t.strip().removeprefix("W/").strip('"') for t in header.split(",")]
    return "*" in tags or str(version) in tags


def json_response(body: dict, version: int, status: int = 200, **headers: str) -> JSONResponse:
    """``body`` with its ETag (and any other headers)."""
    return JSONResponse(body, status_code=status, headers={"ETag": etag(version), **headers})


def json_text_response(text: str, version: int, status: int = 200) -> Response:
    """``text``, already JSON (an item as its change encoded it), with its ETag."""
    return Response(
        text, status_code=status, media_type="application/json", headers={"ETag": etag(version)}
    )


def not_modified(version: int) -> Response:
    return Response(status_code=304, headers={"ETag": etag(version)})
