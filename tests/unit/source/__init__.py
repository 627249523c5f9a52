"""The source stage: reading spec files (sizes, YAML bombs, odd scalars)."""
