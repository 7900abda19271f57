"""kiosk: a shopfloor barcode-scanner kiosk that checks jobs in through a vendor's REST API."""

__version__ = "0.1.0"
