"""Shards: plain, deterministic tar files that carry a dataset's bytes in a few large objects.

Thousands of small objects are slow to move (one request each); a few large ones are fast. A shard
is an ordinary tar (``tar xf`` works on it), written deterministically: members in the given order,
mtime 0, owner root, mode 0644. The same files therefore always give the same shard bytes and the
same sha256, which is the shard's name in the store, so a rerun after an interruption, or a
concurrent upload of the same folder, recreates exactly the shards already sent and skips them.

Readers never parse tar headers: the manifest records each file's data offset and size in its shard.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable, Sequence, TypeVar

BLOCK = 512
MIN_SHARD_BYTES = 8 << 20
MAX_SHARD_BYTES = 128 << 20

Item = TypeVar("Item")


def shard_target(total_bytes: int) -> int:
    """Shard size for ``total_bytes`` of new data.

    Large shards mean few requests, but several shards let packing overlap uploading and let
    fetch download and unpack in parallel, so aim for about four, between 8 and 128 MiB each.
    """
    return max(MIN_SHARD_BYTES, min(MAX_SHARD_BYTES, total_bytes // 4 + 1))


def plan_shards(items: Sequence[Item], sizes: Sequence[int], target: int) -> list[list[Item]]:
    """Cut ``items`` (in order) into consecutive groups of about ``target`` bytes each."""
    groups: list[list[Item]] = []
    current: list[Item] = []
    filled = 0
    for item, size in zip(items, sizes):
        cost = size + 2 * BLOCK  # header and padding, about
        if current and filled + cost > target:
            groups.append(current)
            current, filled = [], 0
        current.append(item)
        filled += cost
    if current:
        groups.append(current)
    return groups


def member_header(name: str, size: int) -> bytes:
    encoded = name.encode("utf-8")
    if len(encoded) < 100 and encoded.isascii() and size < 8**11:
        return _ustar_header(encoded, size)
    import tarfile

    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    # PAX keeps long and non-ASCII names intact (an extended header before the member's own).
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _ustar_header(name: bytes, size: int) -> bytes:
    """The header ``tarfile`` writes for a short ASCII name, built directly: ``TarInfo.tobuf`` is
    pure Python and cost as much as reading the files (the test suite checks they are identical)."""
    header = bytearray(BLOCK)
    header[0 : len(name)] = name
    header[100:148] = b"0000644\x000000000\x000000000\x00%011o\x0000000000000\x00" % size
    header[148:156] = b" " * 8  # the checksum is computed with its own field as spaces
    header[156:157] = b"0"  # regular file
    header[257:265] = b"ustar\x0000"
    header[148:155] = b"%06o\x00" % sum(header)
    return bytes(header)


class ShardWriter:
    """Writes one shard file, hashing it on the way; ``add`` returns the member's data offset."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._handle = open(self.path, "wb")
        self._digest = hashlib.sha256()
        self.size = 0

    def _write(self, data) -> None:
        self._handle.write(data)
        self._digest.update(data)
        self.size += len(data)

    def add(self, name: str, data: bytes) -> int:
        self._write(member_header(name, len(data)))
        offset = self.size
        self._write(data)
        padding = -len(data) % BLOCK
        if padding:
            self._write(b"\0" * padding)
        return offset

    def close(self) -> str:
        """Finish the archive; return its sha256."""
        self._write(b"\0" * (2 * BLOCK))
        self._handle.close()
        return self._digest.hexdigest()

    def abort(self) -> None:
        self._handle.close()
        self.path.unlink(missing_ok=True)


def iter_members(shard: Path) -> Iterable[tuple[str, int, int]]:
    """(name, data offset, size) of each member: for tests and debugging, not the fetch path."""
    import tarfile

    with tarfile.open(shard) as archive:
        for member in archive:
            yield member.name, member.offset_data, member.size
