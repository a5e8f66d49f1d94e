"""Hardware abstraction: spans and ports, the 20 ms frame clock, board events and commands, per-channel DSP.

Everything above `hal` sees boards only through these types; `drivers/*` turn a real or simulated
board into them. `hal` imports nothing else from the project.
"""
