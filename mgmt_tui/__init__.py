"""The installer's terminal UI (urwid), a client of the API socket only: dashboard, reports and
diagnostics at 80x24, keyboard only, usable over SSH and a VT100 serial console."""
