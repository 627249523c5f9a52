"""The codebase's own rules: import graph, stage layout, lint."""
