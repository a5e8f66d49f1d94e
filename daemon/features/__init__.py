"""Extension features on call control's hooks: forwarding, DND, pickup, call waiting, hook-flash
transfer and 3-way, supervision."""
