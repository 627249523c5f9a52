"""Attacks on mlspec, each performed through the real CLI (or the running webhook on
loopback), one module per theme. Each test's docstring names the attack; SECURITY.md at
the repository's root says what mlspec trusts and which test shows each defence.

A package, so that pytest imports these modules as `security.test_*` with tests/ on
sys.path: `from conftest import run_mlspec` and `from support.* import ...` work as they
do for the tests beside it."""
