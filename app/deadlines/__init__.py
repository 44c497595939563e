"""Deadlines: workday arithmetic, traffic lights and the escalation ladder."""
