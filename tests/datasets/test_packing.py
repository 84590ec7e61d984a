"""Shards are ordinary, deterministic tar files whose recorded offsets point at each file's bytes."""

from __future__ import annotations

import tarfile

import pytest

from ocrbatch.datasets.packing import ShardWriter, iter_members, member_header, plan_shards, shard_target


def tarfile_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = size, 0, 0o644, 0, 0, "", ""
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


@pytest.mark.parametrize(
    "name, size",
    [("a", 0), ("imgs/00/00001.png", 20000), ("x" * 99, 8**11 - 1), ("y" * 150, 5), ("bilder/änderung.png", 7)],
)
def test_headers_are_what_tarfile_writes(name, size):
    assert member_header(name, size) == tarfile_header(name, size)


def write_shard(path, members):
    writer = ShardWriter(path)
    offsets = [writer.add(name, data) for name, data in members]
    return writer.close(), offsets, writer.size


def test_shards_are_readable_deterministic_and_offsets_are_right(tmp_path):
    members = [("imgs/a.png", b"A" * 700), ("long/" + "n" * 120 + ".jpg", b"B" * 3), ("labels/train.txt", b"")]
    sha, offsets, size = write_shard(tmp_path / "one.tar", members)
    again, _, _ = write_shard(tmp_path / "two.tar", members)
    assert sha == again and (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()
    assert size == (tmp_path / "one.tar").stat().st_size and size % 512 == 0
    data = (tmp_path / "one.tar").read_bytes()
    for (name, content), offset in zip(members, offsets):
        assert data[offset : offset + len(content)] == content
    assert [(n, o) for n, o, _ in iter_members(tmp_path / "one.tar")] == list(zip([m[0] for m in members], offsets))


def test_plan_shards_cuts_in_order():
    groups = plan_shards(list("abcdef"), [400, 400, 400, 100, 5000, 1], target=5000)
    assert groups == [["a", "b", "c"], ["d"], ["e"], ["f"]]  # each costs its size + 1024 (header, padding)
    assert plan_shards([], [], target=5000) == []
    assert shard_target(0) == 8 << 20 and shard_target(10**12) == 128 << 20
