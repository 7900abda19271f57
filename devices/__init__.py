"""Scanner hardware turned into scan events.

This package knows nothing of the kiosk: it imports nothing from ``kiosk``, nor textual or
httpx, so another program can use it on its own. Every scanner kind (stdin, serial,
keyboard wedge, Linux HID) delivers the same events from ``devices.events``.
"""
