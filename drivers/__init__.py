"""Board drivers: one shim per kind of board, each giving the HAL uniform spans, frames and events.

``drivers.sim`` reaches the simulated board over its board link; ``dahdi`` (real cards through
/dev/dahdi) and vendor SDKs will live beside it.
"""
