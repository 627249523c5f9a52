"""Feast: `feast apply`, materialize and online serving."""
