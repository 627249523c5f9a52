"""Diagnostics: the table of codes."""
