"""The ACD: agents, queues, routing strategies, customer memory and statistics, as pure logic.

Nothing here opens a socket, sleeps or reads a clock: inputs are method calls carrying ``now``,
outputs are calls on a small host interface (``engine.Host``) and events. docs/acd.md describes
how the daemon drives it.
"""
