"""Unit tests for the simulated world."""
