"""The compiler's driver: the front end every command reads a spec with (session), compiling
(compile, run, cache), writing the output tree (writer, apply) and the deployments-repository
plan (deployments). Named `compiler`, not `build`, which pytest and other tools skip by default."""
