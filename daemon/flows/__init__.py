"""The IVR's side in the daemon: flows answering calls on the lines that name them, voicemail deposit,
and flow files through the API."""
