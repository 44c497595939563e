"""Small pieces every feature shares (DESIGN.md, "A small kit"): cursors and keyset
pages, the CloudEvents envelope, the scope placeholder, ETag responses, a parent's
rows in order."""
