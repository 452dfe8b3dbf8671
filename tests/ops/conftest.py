"""The socket fixtures of the realtime tests, for the metrics of live events."""

from tests.realtime.conftest import socket_client

__all__ = ["socket_client"]
