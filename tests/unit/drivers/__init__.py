"""Unit tests for board drivers."""
