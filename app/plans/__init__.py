"""Rectification plans: lead and co-units, responsible people, measures (整改措施)."""
