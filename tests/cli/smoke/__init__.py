"""Smoke tests of the real `python -m mlspec` executable: start-up imports, stream choice, exit
status, colour detection. Few on purpose; everything else runs in-process."""
