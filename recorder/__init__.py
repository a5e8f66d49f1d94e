"""Call recording: taps on calls, file writing off the real-time path, index, retention, backup copy.

The daemon uses one object, ``Recorder`` (``recorder.service``); see docs/recorder.md.
Modules: ``wav`` (file format, repair), ``tap`` (tick side), ``writer`` (off-tick thread),
``index`` (LMDB), ``policy``, ``retention``, ``backup``, ``recovery``, ``service`` (the facade).
"""

from recorder.index import has_audio
from recorder.policy import CallInfo, RecordingPolicy
from recorder.service import Recorder, RecorderConfig
from recorder.wav import Format

__all__ = ["CallInfo", "Format", "Recorder", "RecorderConfig", "RecordingPolicy", "has_audio"]
