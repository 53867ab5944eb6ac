"""The agent's version, shown by ``version``, the welcome and the profiler's files."""
VERSION = "0.1.0"
