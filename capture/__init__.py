"""loopcap's library: loopback audio and screen capture, sessions, notes, conversion."""

__version__ = "0.1.0"
