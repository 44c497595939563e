"""Transactional outbox: events are rows written with the change that caused them."""
