"""The build stage: the output writer (atomic swaps, interrupted writes)."""
