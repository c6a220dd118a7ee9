"""A free TCP port on 127.0.0.1 for a test daemon to listen on.

Picked below the kernel's ephemeral range: a port the kernel hands out for
bind(0) (agents' metrics listeners, outgoing connections) can then never be
taken between our pick and the daemon's bind, which made tests flaky with
"Address already in use". Falls back to bind(0) when that range is too small.
"""
import random
import socket


def free_port():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 0
    if low > 11000:
        for _ in range(200):
            port = random.randint(10000, low - 1)
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
            finally:
                s.close()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


if __name__ == "__main__":
    print(free_port())
