"""The box's configuration: the model loaded from TOML, the located checks every parser uses, editing
through the API, and the checks against the board's real layout."""
