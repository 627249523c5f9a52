"""The executable as a process of the operating system: the same bytes under any hash seed,
killed mid-write, racing for the lock, out of disk, on a read-only mount, under a memory cap."""
