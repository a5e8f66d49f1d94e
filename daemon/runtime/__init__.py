"""The tick runtime: the engine (one board, a line machine per port), media (decode, detectors, mixing,
players), timers on the frame clock, tick statistics and line diagnostics."""
