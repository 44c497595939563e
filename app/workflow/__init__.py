"""Workflows as data: YAML definitions, validated, run through `transitions`."""
