"""China No.1 signalling (MFC/R2, China variant) on E1 timeslots, as sans-I/O machines.

``variant`` (R2 variants as a table of differences from the ITU base), ``line`` (CAS A/B line
signalling), ``register`` (compelled MFC register signalling, both roles) and ``trunk`` (one
timeslot's machine, the engine-facing interface shared with ``signaling.analog``).
"""
