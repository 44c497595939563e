"""API keys, roles and unit scoping."""
