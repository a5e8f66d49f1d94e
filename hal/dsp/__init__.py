"""Per-channel DSP, one module per detector or generator (G.711, DTMF, call-progress tones, caller ID)."""
