"""Shard I/O: webdataset tar shards (``KEY.jpg``, ``KEY.txt``, ``KEY.json`` ...) read and
written in one place, for pools, evaluation sets and resharded subsets alike.

Reading is a hardened parser of the 512-byte tar headers (``tarfile`` costs ~0.2-0.3 ms
per member on this class of machine, which makes resharding a 100k-sample pool take
minutes; reading the headers directly is ~50x faster). It handles regular files in
ustar/GNU/pax archives (GNU long names, pax ``path``/``size``) and skips other member
types. A damaged archive never stops it and never loops: every header's checksum is
checked (in batches, with numpy), every length is bounded by what is left of the file
(and long names and pax records by ``MAX_NAME`` / ``MAX_PAX``), the read position always
moves forward, and each failure (bad checksum, unparsable field, oversized or truncated
member) is a skip that is counted in a ``Damage`` record and logged. After a bad header
the parser steps one block and looks for the next valid header.

Writing emits ustar members with fixed metadata (mtime 0, mode 0644, owner ``selbench``)
and extensions sorted, then tarfile's end-of-archive padding, so equal samples give the
same bytes whoever writes them (the pool generator, the evaluation-set converter, the
resharder).
"""
from __future__ import annotations

import json
import logging
import mmap
import os
from typing import BinaryIO, Iterable, Iterator, Mapping

import numpy as np

from harness.io import atomic_path

log = logging.getLogger(__name__)

BLOCK = 512
RECORD = 20 * BLOCK
ZERO_BLOCK = bytes(BLOCK)
MAX_NAME = 4096        # bytes of a GNU long name
MAX_PAX = 1 << 20      # bytes of a pax extended header
BATCH = 256            # headers whose checksums are checked together
_LINKED = (ord("x"), ord("g"), ord("L"))  # header kinds that describe the next member


class Damage:
    """Counts (and logs) the damaged parts of the archives read with it."""

    def __init__(self):
        self.count = 0
        self.reasons: dict[str, int] = {}

    def skip(self, where: str, offset: int, why: str) -> None:
        """Count and log one skipped member or header (``why`` in a few words)."""
        self.count += 1
        self.reasons[why] = self.reasons.get(why, 0) + 1
        log.warning("%s: byte %d: %s; skipped", where or "tar", offset, why)


class _BadField(ValueError):
    pass


def _num(field: bytes) -> int:
    """An octal (or GNU base-256) numeric header field; ``_BadField`` when unparsable."""
    if field[:1] and field[0] & 0x80:  # GNU base-256 for large sizes
        if field[0] & 0x40:
            raise _BadField("negative base-256 number")
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    if not text:
        return 0
    if text.strip(b"01234567"):
        raise _BadField("non-octal number")
    return int(text, 8)


def _size(field: bytes) -> int:
    """The 12-byte size field: the usual eleven octal digits and a NUL or space read
    directly, anything else through ``_num``."""
    digits = field[:11]
    if field[11:12] in (b"\0", b" ") and digits.isdigit():  # ASCII digits only: no sign, no _
        try:
            return int(digits, 8)
        except ValueError:  # an 8 or a 9
            pass
    return _num(field)


def _cstr(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict:
    """Records ``"%d %s=%s\\n"`` of a pax header; ``_BadField`` on any malformed record."""
    out, pos = {}, 0
    while pos < len(data):
        space = data.find(b" ", pos, pos + 20)
        if space <= pos or not data[pos:space].isdigit():
            raise _BadField("malformed pax record")
        length = int(data[pos:space])
        if length <= space - pos or pos + length > len(data) or data[pos + length - 1:pos + length] != b"\n":
            raise _BadField("malformed pax record")
        key, eq, value = data[space + 1:pos + length - 1].partition(b"=")
        if not eq:
            raise _BadField("malformed pax record")
        out[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def _checksums_ok(blocks: np.ndarray) -> list[bool]:
    """Whether each 512-byte header (a row of ``blocks``, uint8) has a stored checksum that
    matches its bytes, the checksum field counted as spaces (the unsigned sum, or the signed
    one some old tars wrote)."""
    sums = (blocks.sum(axis=1, dtype=np.int64)
            - blocks[:, 148:156].sum(axis=1, dtype=np.int64) + 8 * 32).tolist()
    # the usual field: six octal digits then NUL or space, read for every header at once
    digits = blocks[:, 148:154].astype(np.int64) - 48
    plain = (((digits >= 0) & (digits <= 7)).all(axis=1) & ((blocks[:, 154] == 0) | (blocks[:, 154] == 32))).tolist()
    stored = (digits @ (8 ** np.arange(5, -1, -1, dtype=np.int64))).tolist()
    out = []
    for i, total in enumerate(sums):
        if plain[i] and stored[i] == total:
            out.append(True)
            continue
        try:
            value = _num(blocks[i, 148:156].tobytes())
        except _BadField:
            out.append(False)
            continue
        if value != total:  # rare: try the signed sum before calling it damaged
            signed = blocks[i].view(np.int8).astype(np.int64)
            total = int(signed.sum() - signed[148:156].sum() + 8 * 32)
        out.append(value == total)
    return out


def _buffer(f: BinaryIO):
    """The stream's bytes as one buffer: memory-mapped for a regular file, else read."""
    try:
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (AttributeError, OSError, ValueError):  # a pipe, BytesIO, or an empty file
        return f.read()


def iter_members(f: BinaryIO, damage: Damage | None = None, where: str = "") -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, data)`` for each regular file of a tar stream, in archive order.

    Damaged headers and members are skipped, counted in ``damage`` and logged (``where``
    names the file in the log). The archive is parsed from one buffer (``mmap`` for files
    on disk: the pages are the OS cache's, so memory stays bounded).
    """
    buf = _buffer(f)
    members = _members(buf, damage if damage is not None else Damage(), where)
    try:
        yield from members
    finally:
        members.close()
        if not isinstance(buf, bytes):
            buf.close()  # the mmap: unmapped when the caller stops, not when collected


def _plan(buf, pos: int, end: int) -> tuple[list[int], list[int | None]]:
    """Offsets and sizes (None: unparsable) of up to ``BATCH`` consecutive headers from
    ``pos``, trusting their sizes; stops after a header whose successor cannot be placed
    without it (pax, long name, a size that does not parse) and before an end-of-archive
    block."""
    offsets, sizes = [], []
    while len(offsets) < BATCH and pos + BLOCK <= end:
        if buf[pos] == 0 and buf[pos:pos + BLOCK] == ZERO_BLOCK:  # a header has a name
            break
        try:
            size = _size(buf[pos + 124:pos + 136])
        except _BadField:
            size = None
        offsets.append(pos)
        sizes.append(size)
        if size is None or buf[pos + 156] in _LINKED:
            break
        pos += BLOCK + size + (-size % BLOCK)
    return offsets, sizes


def _resync(buf, blocks, pos: int, end: int) -> int:
    """The offset of the first block from ``pos`` on that is a valid header, or of the
    end-of-archive zeros (``end`` when there is none). A zero block followed by other data
    is a damaged member's payload, not the end: scanning goes on past it."""
    data_end = None
    while pos + BLOCK <= end:
        if buf[pos:pos + BLOCK] == ZERO_BLOCK:
            if data_end is None:
                data_end = _data_end(buf, end)
            if pos >= data_end:
                return pos
        elif _checksums_ok(blocks[[pos]])[0]:
            return pos
        pos += BLOCK
    return end


def _data_end(buf, end: int, chunk: int = 1 << 20) -> int:
    """One past the last non-zero byte of ``buf[:end]`` (0 when all are zero), read backwards
    in chunks."""
    hi = end
    while hi > 0:
        lo = max(0, hi - chunk)
        nonzero = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8, count=hi - lo, offset=lo))
        if len(nonzero):
            return lo + int(nonzero[-1]) + 1
        hi = lo
    return 0


def _members(buf, damage: Damage, where: str) -> Iterator[tuple[str, bytes]]:
    end, pos = len(buf), 0
    # every 512-byte window of the archive, as a view: headers are gathered from it in batches
    blocks = (np.lib.stride_tricks.sliding_window_view(np.frombuffer(buf, dtype=np.uint8), BLOCK)
              if end >= BLOCK else None)
    long_name, pax = None, {}
    while pos + BLOCK <= end:
        offsets, sizes = _plan(buf, pos, end)
        if not offsets:
            return  # an end-of-archive block
        for offset, size, ok in zip(offsets, sizes, _checksums_ok(blocks[offsets])):
            if not ok or size is None:
                pos = _resync(buf, blocks, offset + BLOCK, end)
                damage.skip(where, offset, f"{'bad header checksum' if not ok else 'unparsable size'}"
                                           f" ({pos - offset} bytes to the next header)")
                long_name, pax = None, {}
                break
            if pax and "size" in pax:
                try:
                    size = int(pax["size"])
                except ValueError:
                    size = -1
                if size < 0:
                    pos = _resync(buf, blocks, offset + BLOCK, end)
                    damage.skip(where, offset, "unparsable pax size")
                    long_name, pax = None, {}
                    break
            start = offset + BLOCK
            if start + size > end:
                damage.skip(where, offset, f"truncated member ({size} bytes, {end - start} left)")
                return
            pos = start + size + (-size % BLOCK)
            header = buf[offset:start]
            kind = header[156:157]
            if kind in (b"L", b"x", b"g"):
                limit = MAX_NAME if kind == b"L" else MAX_PAX
                if kind != b"g" and size > limit:
                    damage.skip(where, offset, f"{'long name' if kind == b'L' else 'pax header'} "
                                               f"of {size} bytes (limit {limit})")
                    long_name, pax = None, {}
                elif kind == b"L":
                    long_name = _cstr(buf[start:start + size])
                elif kind == b"x":
                    try:
                        pax = _pax(buf[start:start + size])
                    except _BadField as exc:
                        damage.skip(where, offset, str(exc))
                        pax = {}
                break  # the next header's size may come from this one: plan again
            name = _cstr(header[0:100])
            if header[257:262] == b"ustar" and header[345:500].strip(b"\0"):
                name = _cstr(header[345:500]) + "/" + name
            sized_by_pax = False
            if pax or long_name:
                name = pax.get("path", long_name or name)
                sized_by_pax = "size" in pax
                long_name, pax = None, {}
            if kind in (b"0", b"\0", b"7"):
                yield name, buf[start:start + size]
            if sized_by_pax:
                break  # the plan placed the next header by this header's own size field
    if pos < end and buf[pos:end].strip(b"\0"):
        damage.skip(where, pos, f"truncated header ({end - pos} bytes)")


def iter_samples(f: BinaryIO, damage: Damage | None = None, where: str = "") -> Iterator[dict]:
    """Group consecutive members by key into samples ``{"__key__": key, ext: bytes}``.

    A member's key and extension split as webdataset's ``base_plus_ext`` does: the key runs
    to the first dot of the file name, the rest (lower-cased) is the extension; names
    without a dot, or starting with one, are skipped.
    """
    sample = None
    for name, data in iter_members(f, damage, where):
        folder, slash, base = name.rpartition("/")
        stem, dot, ext = base.partition(".")
        if not (dot and stem):
            continue
        key, ext = folder + slash + stem, ext.lower()
        if sample is None or key != sample["__key__"] or ext in sample:
            if sample is not None:
                yield sample
            sample = {"__key__": key}
        sample[ext] = data
    if sample is not None:
        yield sample


def read_tar(path: str | os.PathLike, damage: Damage | None = None) -> Iterator[dict]:
    """Yield the samples of the tar at ``path`` (``iter_samples`` over the open file)."""
    with open(path, "rb") as f:
        yield from iter_samples(f, damage, str(path))


# ----- writing ------------------------------------------------------------------------------
def _num_field(n: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, n)


_USER = b"selbench".ljust(32, b"\0")
# a header is name(100) | mode uid gid (8 each) | size(12) | mtime(12) | checksum(8) | kind(1)
# | link name(100) | "ustar\0" "00" | user, group (32 each) | dev major, minor (8 each) | prefix(155)
_FIXED_A = _num_field(0o644, 8) + _num_field(0, 8) + _num_field(0, 8)
_FIXED_B = (_num_field(0, 12), b"0" + bytes(100) + b"ustar\x0000" + _USER + _USER + bytes(16)
            + bytes(155) + bytes(12))
_FIXED_SUM = sum(_FIXED_A) + sum(_FIXED_B[0]) + sum(_FIXED_B[1]) + 8 * 32  # checksum as spaces


def _header(name: str, size: int) -> bytes:
    """The ustar header of a regular file ``name`` of ``size`` bytes with selbench's fixed
    metadata (the checksum adds the fixed fields' precomputed sum to the name's and size's)."""
    raw = name.encode("utf-8")
    if len(raw) > 100:
        raise ValueError(f"member name too long for ustar: {name!r}")
    size_field = _num_field(size, 12)
    chk = b"%06o\0 " % (_FIXED_SUM + sum(raw) + sum(size_field))
    return raw.ljust(100, b"\0") + _FIXED_A + size_field + _FIXED_B[0] + chk + _FIXED_B[1]


def _bytes(value) -> bytes:
    if isinstance(value, dict):
        value = json.dumps(value, sort_keys=True)
    if isinstance(value, str):
        value = value.encode("utf-8")
    return bytes(value)


class TarWriter:
    """Write samples to a binary stream as ustar members (call ``close`` to finish)."""

    def __init__(self, f: BinaryIO):
        self.f, self.offset = f, 0

    def write(self, sample: Mapping) -> None:
        """Write one sample: ``__key__`` plus ``ext -> bytes | str | dict (json)``, extensions sorted."""
        key = sample["__key__"]
        for ext in sorted(k for k in sample if not k.startswith("__")):
            data = _bytes(sample[ext])
            self.f.write(_header(f"{key}.{ext}", len(data)))
            self.f.write(data)
            pad = -len(data) % BLOCK
            self.f.write(bytes(pad))
            self.offset += BLOCK + len(data) + pad

    def close(self) -> None:
        """Write the end-of-archive blocks and pad to a whole record, as tarfile does."""
        end = self.offset + 2 * BLOCK
        self.f.write(bytes(2 * BLOCK + (-end % RECORD)))


def write_tar(path: str | os.PathLike, samples: Iterable[Mapping]) -> int:
    """Write webdataset samples to a tar at ``path`` atomically; return the number written."""
    n = 0
    with atomic_path(path, suffix=".tar") as tmp, open(tmp, "wb") as f:
        writer = TarWriter(f)
        for sample in samples:
            writer.write(sample)
            n += 1
        writer.close()
    return n
