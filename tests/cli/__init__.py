"""CLI tests: each command run in this process through click's CliRunner (conftest.invoke_mlspec);
a subprocess only where the test is about one (what a fresh interpreter imports or finds in the
cache, an installed plugin's entry point). The real executable's smoke tests: cli/smoke/."""
