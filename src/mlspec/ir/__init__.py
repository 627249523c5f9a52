"""The resolved, frozen intermediate representation that targets generate from."""
