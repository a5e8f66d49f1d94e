"""The callbox service: event loop, call control, dial plan, CDRs, storage, configuration, systemd glue."""
