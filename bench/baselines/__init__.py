"""Peer servers for the realtime benchmark's workload (``python -m bench peers``).

- :mod:`bench.baselines.relay`: a bare Flask-SocketIO room relay with no document logic,
  the floor of our stack (gevent + TCP_NODELAY, or threads);
- :mod:`bench.baselines.yjs`: pycrdt-websocket, the Yjs server behind Jupyter's
  collaboration, with pycrdt clients.

Each module is both a server (``python -m bench.baselines.NAME --port P``, run as a
subprocess so that /proc readings of it are the server's alone) and the load generator's
worker for that server. This package imports nothing: the relay's server patches the
standard library with gevent before anything else is imported.
"""
