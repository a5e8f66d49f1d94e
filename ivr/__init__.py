"""Call flows: IVR menus, prompts and Mandarin TTS, digit collection, schedules, caller lists, lookups,
voicemail storage. See docs/ivr.md.

Imports ``hal`` only; the daemon hands each call a ``ivr.interface.CallControl`` and drives the flow
through ``ivr.interface.IvrCall`` (or ``ivr.engine.FlowRun`` directly, sans I/O).
"""
