import ipaddress
import socket


def is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return ip == "localhost"


def listening_socket(ip: str, port: int, backlog: int) -> socket.socket:
    """A TCP socket bound to ``ip``:``port`` (0: a free port) and listening; OSError when it cannot be."""
    listener = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((ip, port))
        listener.listen(backlog)
    except OSError:
        listener.close()
        raise
    return listener
