"""The tick runtime: the engine (one board, a line machine per port), media (decode, detectors,
players, mixing, encode), tick statistics and line diagnostics."""
