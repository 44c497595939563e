"""Where resources live: the API prefix and the ``Location`` of what a 201 created."""

API_PREFIX = "/api/v1"


def location(path: str) -> dict[str, str]:
    """The ``Location`` header for a resource at ``path`` under the API prefix."""
    return {"Location": API_PREFIX + path}
