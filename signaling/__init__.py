"""Line and register protocols that turn port events into uniform call events.

``signaling.events`` is the vocabulary above this layer; ``signaling.analog`` (loop-start FXS/FXO
with caller ID), later ``signaling.no1`` (China No.1) and ``signaling.ss7`` are sans-I/O state
machines: they are fed board events, DSP results and the frame clock's time, and hand back board
commands, media requests and call events. They never touch a socket, a board or a clock.
"""
