"""Shard I/O: one writer (the bytes tarfile writes), one hardened reader (webdataset's
samples on good tars; on any input it ends, and every damaged part is a counted skip)."""
import io
import tarfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.pool.shards import (BLOCK, MAX_NAME, MAX_PAX, Damage, TarWriter, iter_members,
                                 iter_samples, read_tar, write_tar)

EXTS = st.sampled_from(["jpg", "txt", "json", "cls", "npy"])
SAMPLES = st.lists(
    st.fixed_dictionaries({"__key__": st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True),
                           "exts": st.dictionaries(EXTS, st.binary(max_size=1500), min_size=1,
                                                   max_size=3)}),
    max_size=12)


def as_samples(drawn):
    return [{"__key__": f"{i:04d}{d['__key__']}", **d["exts"]} for i, d in enumerate(drawn)]


def tarfile_bytes(samples) -> bytes:
    """The reference: Python's tarfile, ustar, with the metadata selbench fixes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for s in samples:
            for ext in sorted(k for k in s if not k.startswith("__")):
                info = tarfile.TarInfo(f"{s['__key__']}.{ext}")
                info.size, info.mtime, info.mode = len(s[ext]), 0, 0o644
                info.uname = info.gname = "selbench"
                tf.addfile(info, io.BytesIO(s[ext]))
    return buf.getvalue()


def ours(samples) -> bytes:
    buf = io.BytesIO()
    writer = TarWriter(buf)
    for s in samples:
        writer.write(s)
    writer.close()
    return buf.getvalue()


@settings(max_examples=60, deadline=None)
@given(SAMPLES)
def test_writer_gives_tarfiles_bytes_and_reader_reads_them_back(drawn):
    samples = as_samples(drawn)
    data = ours(samples)
    assert data == tarfile_bytes(samples)
    damage = Damage()
    assert list(iter_samples(io.BytesIO(data), damage)) == samples and damage.count == 0


def test_write_tar_is_atomic_and_takes_str_and_json(tmp_path):
    n = write_tar(tmp_path / "a.tar", [{"__key__": "k", "txt": "é", "json": {"b": 1, "a": 2}}])
    assert n == 1 and [p.name for p in tmp_path.iterdir()] == ["a.tar"]
    (got,) = read_tar(tmp_path / "a.tar")
    assert got == {"__key__": "k", "txt": "é".encode(), "json": b'{"a": 2, "b": 1}'}


def test_reader_matches_webdataset_on_a_pool_tar(tmp_path):
    import webdataset as wds

    rng = np.random.default_rng(0)
    samples = [{"__key__": f"{i:09d}", "jpg": rng.bytes(int(rng.integers(1, 3000))),
                "txt": f"caption {i}".encode(), "json": b'{"uid": "%032x"}' % i} for i in range(40)]
    write_tar(tmp_path / "p.tar", samples)
    theirs = [{k: v for k, v in s.items() if not k.startswith("__") or k == "__key__"}
              for s in wds.WebDataset(str(tmp_path / "p.tar"), shardshuffle=False)]
    assert list(read_tar(tmp_path / "p.tar")) == theirs == samples
    with open(tmp_path / "p.tar", "rb") as f:  # a stream without a file descriptor is read
        assert list(iter_samples(io.BytesIO(f.read()))) == samples


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_long_names_in_pax_and_gnu_archives(fmt):
    names = ["d" * 150 + "/x.jpg", "short.txt", "é" * 60 + ".json"]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for n in names:
            info = tarfile.TarInfo(n)
            info.size = 3
            tf.addfile(info, io.BytesIO(b"abc"))
        folder = tarfile.TarInfo("a_dir")
        folder.type = tarfile.DIRTYPE
        tf.addfile(folder)  # not a regular file: skipped, not damage
    damage = Damage()
    got = list(iter_members(io.BytesIO(buf.getvalue()), damage))
    assert [n for n, _ in got] == names and damage.count == 0


def member_offsets(data: bytes) -> list[int]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return [m.offset for m in tf.getmembers()]


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(SAMPLES.filter(lambda d: len(d) >= 2), st.data())
def test_a_damaged_header_is_a_counted_skip_and_the_rest_is_read(drawn, data):
    samples = as_samples(drawn)
    good = ours(samples)
    members = list(iter_members(io.BytesIO(good)))
    offsets = member_offsets(good)
    hit = data.draw(st.integers(0, len(offsets) - 1))
    pos = offsets[hit] + data.draw(st.integers(0, BLOCK - 1))
    bad = bytearray(good)
    bad[pos] = (bad[pos] + data.draw(st.integers(1, 255))) % 256
    damage = Damage()
    got = list(iter_members(io.BytesIO(bytes(bad)), damage))
    if tarfile_reads_the_same(bytes(bad), good):
        # the byte was one the header's checksum ignores (the checksum field's terminator)
        assert got == members and damage.count == 0
        return
    assert damage.count >= 1  # any other changed header byte breaks its checksum
    # every member but the damaged one is still read, unchanged
    assert [m for m in got if m in members] == members[:hit] + members[hit + 1:]


def tarfile_reads_the_same(data: bytes, original: bytes) -> bool:
    """Whether Python's tarfile reads ``data`` as the same members as ``original``."""
    def listing(raw):
        with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
            return [(m.name, m.size, tf.extractfile(m).read()) for m in tf.getmembers() if m.isfile()]
    try:
        return listing(data) == listing(original)
    except (tarfile.TarError, OSError, ValueError):
        return False


@settings(max_examples=300, deadline=2000)
@given(st.binary(max_size=6000))
def test_any_bytes_end_without_an_exception(blob):
    damage = Damage()
    got = list(iter_members(io.BytesIO(blob), damage))
    assert sum(len(d) for _, d in got) <= len(blob)
    if blob.strip(b"\0") and not got:
        assert damage.count >= 1  # junk is reported, never silently empty


@settings(max_examples=150, deadline=2000)
@given(SAMPLES.filter(bool), st.data())
def test_truncated_and_spliced_archives_end(drawn, data):
    good = ours(as_samples(drawn))
    cut = data.draw(st.integers(0, len(good)))
    extra = data.draw(st.binary(max_size=1200))
    for blob in (good[:cut], good[:cut] + extra + good[cut:], extra + good):
        list(iter_members(io.BytesIO(blob), Damage()))


def raw_header(name: bytes, size: int, kind: bytes) -> bytes:
    head = (name.ljust(100, b"\0") + b"0000644\0" + b"0000000\0" * 2 + b"%011o\0" % size
            + b"00000000000\0" + b" " * 8 + kind + bytes(100) + b"ustar\x0000").ljust(BLOCK, b"\0")
    return head[:148] + b"%06o\0" % sum(head) + head[155:]


def member(name: bytes, data: bytes, kind: bytes = b"0") -> bytes:
    return raw_header(name, len(data), kind) + data + bytes(-len(data) % BLOCK)


def test_oversized_long_names_and_pax_headers_are_skipped():
    after = member(b"ok.txt", b"fine")
    for kind, limit in ((b"L", MAX_NAME), (b"x", MAX_PAX)):
        damage = Damage()
        blob = member(b"././@LongLink", b"n" * (limit + 1), kind) + after + bytes(1024)
        assert list(iter_members(io.BytesIO(blob), damage)) == [("ok.txt", b"fine")]
        assert damage.count == 1 and "limit" in next(iter(damage.reasons))
    damage = Damage()
    blob = member(b"pax", b"99999 size=5\n", b"x") + after + bytes(1024)
    assert list(iter_members(io.BytesIO(blob), damage)) == [("ok.txt", b"fine")]
    assert damage.reasons == {"malformed pax record": 1}


def test_a_truncated_member_is_counted(tmp_path, caplog):
    data = ours([{"__key__": "a", "jpg": b"x" * 2000}, {"__key__": "b", "jpg": b"y" * 2000}])
    damage = Damage()
    got = list(iter_members(io.BytesIO(data[:BLOCK * 6]), damage, "cut.tar"))
    assert got == [("a.jpg", b"x" * 2000)] and damage.count == 1
    assert "cut.tar: byte 2560: truncated member" in caplog.text


def test_stopping_early_unmaps_the_file(tmp_path):
    write_tar(tmp_path / "t.tar", [{"__key__": f"{i}", "txt": b"x"} for i in range(5)])
    it = read_tar(tmp_path / "t.tar")
    next(it)
    it.close()  # a mapped buffer still exported would raise BufferError here


def test_a_pax_size_places_the_next_member():
    # a pax record gives the real size of a member whose ustar size field says 0
    body = b"z" * 700
    blob = (member(b"pax", b"12 size=700\n", b"x") + raw_header(b"big.bin", 0, b"0") + body
            + bytes(-len(body) % BLOCK) + member(b"next.txt", b"after") + bytes(1024))
    damage = Damage()
    assert list(iter_members(io.BytesIO(blob), damage)) == [("big.bin", body), ("next.txt", b"after")]
    assert damage.count == 0
