"""Responsible units (责任单位) and their hierarchy."""
