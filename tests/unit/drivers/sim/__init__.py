"""Unit tests for the simulated board driver."""
