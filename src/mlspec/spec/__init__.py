"""The spec language: pydantic models mirroring the YAML, and their validation."""
