"""The operator console: static ES modules served at /console/, calling the public API."""
