"""The review stage: diff and graph renderings."""
