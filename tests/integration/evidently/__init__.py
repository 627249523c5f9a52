"""Evidently: the generated drift checks with the real Evidently."""
