"""Who a per-address limit counts: one IPv4 address, or one IPv6 /64 (what one subscriber gets)."""

import ipaddress


def client_key(address: str) -> str:
    """The key per-address limits count under: an IPv6 address cut to its /64, IPv4 as it is
    (an IPv4-mapped IPv6 address is its IPv4 address); anything unparsable as it came."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)
