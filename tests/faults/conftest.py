"""The socket fixtures of the realtime tests, for the in-process fault tests."""

from tests.realtime.conftest import socket_client

__all__ = ["socket_client"]
