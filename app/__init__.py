"""Rectify: a workflow engine for supervision-item rectification (问题整改)."""
