"""Great Expectations: the generated suites in GX 1.x."""
