"""ETags of versioned resources: the version, quoted (a strong tag).

``If-None-Match`` compares weakly (``W/"4"`` names version 4), ``If-Match`` strongly
(RFC 9110 13.1.1: a weak tag never matches, so it is 412)."""

from fastapi.responses import JSONResponse, Response


def etag(version: int) -> str:
    return f'"{version}"'


def matches(version: int, header: str, strong: bool = False) -> bool:
    """Whether an ``If-None-Match`` list (or, ``strong``, an ``If-Match`` one) names this
    version, or is ``*``."""
    tags = [t.strip() for t in header.split(",")]
    if not strong:
        tags = [t.removeprefix("W/") for t in tags]
    return "*" in tags or etag(version) in tags or str(version) in tags


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
