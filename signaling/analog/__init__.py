"""Loop-start analog line signalling as sans-I/O state machines.

``fxs.FxsLine``: the box drives an analog phone (battery, ringing, caller ID, dial tone; hook,
flash and digits from the phone). ``fxo.FxoLine``: the box is the phone on a central-office line
(ring and caller-ID detection, answer, seize and dial, answer and disconnect supervision by
call-progress tones, loop current and polarity). Both are fed board events, DSP results and the
time, and hand back board commands, media requests (``signaling.media``) and call events.
"""
