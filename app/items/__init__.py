"""Supervision items (问题): create, read, list, act on them."""
