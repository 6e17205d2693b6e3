"""Fast streaming tar I/O for resharding: webdataset samples in, webdataset samples out.

Python's ``tarfile`` costs ~0.2-0.3 ms per member on this class of machine, which makes
resharding a 100k-sample pool take minutes; parsing the 512-byte headers directly is
~50x faster. Reading handles regular files in ustar/GNU/pax archives (GNU long names and
pax ``path``/``size`` records included); other member types are skipped. Writing emits
the same bytes as ``harness.pool.writer.write_tar`` (ustar, mtime 0, mode 0644).
"""
from __future__ import annotations

import re
from typing import BinaryIO, Iterator

BLOCK = 512
RECORD = 20 * BLOCK
ZERO_BLOCK = bytes(BLOCK)
_KEY = re.compile(r"^((?:.*/|)[^./]+)[.]([^/]*)$")  # webdataset's base_plus_ext


def _num(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256 for large sizes
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _cstr(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict:
    out, pos = {}, 0
    while pos < len(data):
        space = data.index(b" ", pos)
        length = int(data[pos:space])
        key, _, value = data[space + 1:pos + length - 1].partition(b"=")
        out[key.decode()] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def _buffer(f: BinaryIO):
    """The stream's bytes as one buffer: memory-mapped for a regular file, else read."""
    import mmap

    try:
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (AttributeError, OSError, ValueError):  # a pipe, BytesIO, or an empty file
        return f.read()


def iter_members(f: BinaryIO) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, data)`` for each regular file of a tar stream, in archive order.

    The archive is parsed from one buffer (``mmap`` for files on disk: the pages are the
    OS cache's, so memory stays bounded) rather than with three reads per member.
    """
    buf = _buffer(f)
    try:
        yield from _members(buf)
    finally:
        if not isinstance(buf, bytes):
            buf.close()  # the mmap: unmapped when the caller stops, not when collected


def _members(buf) -> Iterator[tuple[str, bytes]]:
    end, pos = len(buf), 0
    long_name, pax = None, {}
    while pos + BLOCK <= end:
        header = buf[pos:pos + BLOCK]
        if header == ZERO_BLOCK:
            return
        size, kind = _num(header[124:136]), header[156:157]
        size = int(pax.get("size", size))
        start = pos + BLOCK
        if start + size > end:
            raise ValueError("truncated tar member")
        data = buf[start:start + size]
        pos = start + size + (-size % BLOCK)
        if kind == b"L":
            long_name = _cstr(data)
            continue
        if kind == b"x":
            pax = _pax(data)
            continue
        if kind == b"g":
            continue
        name = _cstr(header[0:100])
        if header[257:262] == b"ustar" and header[345:500].strip(b"\0"):
            name = _cstr(header[345:500]) + "/" + name
        name = pax.get("path", long_name or name)
        long_name, pax = None, {}
        if kind in (b"0", b"\0", b"7"):
            yield name, data


def iter_samples(f: BinaryIO) -> Iterator[dict]:
    """Group consecutive members by key into samples ``{"__key__": key, ext: bytes}``."""
    sample = None
    for name, data in iter_members(f):
        m = _KEY.match(name)
        if not m:
            continue
        key, ext = m.group(1), m.group(2).lower()
        if sample is None or key != sample["__key__"] or ext in sample:
            if sample is not None:
                yield sample
            sample = {"__key__": key}
        sample[ext] = data
    if sample is not None:
        yield sample


def _header(name: str, size: int) -> bytes:
    raw = name.encode("utf-8")
    if len(raw) > 100:
        raise ValueError(f"member name too long for ustar: {name!r}")

    def num(n, width):
        return b"%0*o\0" % (width - 1, n)

    user = b"selbench".ljust(32, b"\0")
    head = (raw.ljust(100, b"\0") + num(0o644, 8) + num(0, 8) + num(0, 8) + num(size, 12)
            + num(0, 12) + b" " * 8 + b"0" + bytes(100) + b"ustar\x0000" + user + user
            + bytes(16) + bytes(155))  # devmajor, devminor: empty for regular files
    head = head.ljust(BLOCK, b"\0")
    chk = b"%06o\0" % sum(head)
    return head[:148] + chk + head[155:]


class TarWriter:
    """Write samples to a binary stream as ustar members (call ``close`` to finish)."""

    def __init__(self, f: BinaryIO):
        self.f, self.offset = f, 0

    def write(self, sample: dict) -> None:
        """Write one sample: ``__key__`` plus ``ext -> bytes``, extensions sorted."""
        key = sample["__key__"]
        for ext in sorted(k for k in sample if not k.startswith("__")):
            data = sample[ext]
            self.f.write(_header(f"{key}.{ext}", len(data)))
            self.f.write(data)
            pad = -len(data) % BLOCK
            self.f.write(bytes(pad))
            self.offset += BLOCK + len(data) + pad

    def close(self) -> None:
        """Write the end-of-archive blocks and pad to a whole record, as tarfile does."""
        end = self.offset + 2 * BLOCK
        self.f.write(bytes(2 * BLOCK + (-end % RECORD)))
