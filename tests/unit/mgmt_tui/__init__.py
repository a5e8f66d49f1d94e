"""Tests of mgmt_tui."""
