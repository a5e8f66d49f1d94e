"""Tests of the per-channel DSP modules."""
