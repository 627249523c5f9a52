"""Security tests: each performs an attack through the real CLI or a running server and shows it fails (see SECURITY.md)."""
