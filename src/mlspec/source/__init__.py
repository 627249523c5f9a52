"""Loading a spec file: bytes -> plain data plus a tree of source positions."""

from mlspec.source.loader import LoadedSource, load_spec_file, load_spec_text
from mlspec.source.positions import PositionTree

__all__ = ["LoadedSource", "PositionTree", "load_spec_file", "load_spec_text"]
