"""CLI tests: each command run in this process through click's CliRunner (conftest.invoke_mlspec);
subprocesses only where the test is about one (start-up imports, a fresh process's cache)."""
