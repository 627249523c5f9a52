"""The spec stage: the JSON Schema and the literal-secret check."""
