"""`mlspec run --local`: the generated platform of a spec, run on one machine with the real tools."""
