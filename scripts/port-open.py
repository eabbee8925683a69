"""Exit 0 when the host:port of the URL given accepts a TCP connection (stdlib only)."""

import socket
import sys
from urllib.parse import urlsplit

url = urlsplit(sys.argv[1])
default_port = {"amqp": 5672, "amqps": 5671, "postgresql": 5432, "http": 80}.get(url.scheme, 80)
try:
    with socket.create_connection((url.hostname or "localhost", url.port or default_port), 2):
        pass
except OSError:
    sys.exit(1)
