"""Helpers shared by the test suite: running the simulator and the daemon as processes, measuring audio."""
