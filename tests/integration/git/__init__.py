"""git: `mlspec publish` into real deployments repositories."""
