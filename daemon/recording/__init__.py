"""The recorder's host: recording taps on the daemon's calls, built from ``[recording]``."""
