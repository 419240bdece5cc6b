"""The host's network interface addresses, for the GDB stub's "reachable from other machines" warning.

Linux only, standard library only: IPv4 through the SIOCGIFADDR ioctl per
interface (``socket.if_nameindex``), IPv6 from ``/proc/net/if_inet6``.  On
other systems, or when nothing can be read, the list is empty and the caller
names the wildcard address instead.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct

SIOCGIFADDR = 0x8915
IF_INET6 = "/proc/net/if_inet6"


def _ipv4(name: str) -> str | None:
    try:
        import fcntl
    except ImportError:  # not a Unix
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            raw = fcntl.ioctl(s.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError:  # no IPv4 address on this interface
            return None
    return socket.inet_ntoa(raw[20:24])


def _ipv6() -> list[tuple[str, str]]:
    out = []
    with contextlib.suppress(OSError), open(IF_INET6) as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 6:
                address = ipaddress.IPv6Address(bytes.fromhex(fields[0]))
                scope = f"%{fields[5]}" if address.is_link_local else ""
                out.append((fields[5], f"{address}{scope}"))
    return out


def interface_addresses() -> list[tuple[str, int, str]]:
    """``(interface, family, address)`` for every address the host has."""
    out: list[tuple[str, int, str]] = []
    with contextlib.suppress(OSError):
        for _, name in socket.if_nameindex():
            address = _ipv4(name)
            if address is not None:
                out.append((name, socket.AF_INET, address))
    out += [(name, socket.AF_INET6, address) for name, address in _ipv6()]
    return out
