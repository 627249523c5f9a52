"""Unit tests, one folder per stage of the compiler (source, spec, diagnostics, build, review,
targets, runtime) plus the codebase's own rules: in-process, no CLI, no external tool."""
