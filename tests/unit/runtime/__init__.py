"""The code that runs in the generated system (mlspec.runtime), called in this process."""
