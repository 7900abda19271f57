"""Pure station logic: what a scan means at this station and what to do about it.

No I/O, no textual, no HTTP: ``Station.handle(scan, now)`` returns actions (reply now, send
a check-in, record an audit event) and the service carries them out. Time is always passed
in, so every window and idle timeout is tested with an injected clock.
"""

from kiosk.station.actions import Audit, Reply, Send
from kiosk.station.classify import Classified, Kind, classify
from kiosk.station.state import Scan, Station

__all__ = ["Audit", "Classified", "Kind", "Reply", "Scan", "Send", "Station", "classify"]
