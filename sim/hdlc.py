"""CRC-16/X.25 frame check sequence, as a DAHDI HDLC channel computes and checks it.

The FCS is the ones' complement of the reflected CRC-16-CCITT (poly 0x8408, init 0xFFFF) and is sent
low octet first. A frame whose FCS does not check is dropped by the receiver and counted.
"""

from __future__ import annotations


def _table() -> list[int]:
    out = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        out.append(crc)
    return out


_TABLE = _table()


def crc16_x25(data: bytes) -> int:
    """The X.25 FCS value of ``data`` (0x906E for b"123456789")."""
    crc = 0xFFFF
    for b in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFF


def add_fcs(data: bytes) -> bytes:
    """``data`` followed by its two FCS octets, low octet first."""
    fcs = crc16_x25(data)
    return bytes(data) + bytes((fcs & 0xFF, fcs >> 8))


def check_fcs(frame: bytes) -> bytes | None:
    """The frame without its FCS if the FCS checks, else ``None``."""
    if len(frame) < 3:
        return None
    body = frame[:-2]
    fcs = crc16_x25(body)
    return bytes(body) if frame[-2] == fcs & 0xFF and frame[-1] == fcs >> 8 else None
