"""Webhook subscriptions, signing, delivery and the SSRF guard."""
