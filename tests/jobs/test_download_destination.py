"""A destination that cannot take the model is refused before anything is fetched, with its real cause."""

from __future__ import annotations

import os
import shutil
from collections import namedtuple

import pytest

from ocrbatch.artifact import staging_folder
from ocrbatch.errors import BadInput, OcrbatchError
from ocrbatch.jobs import runs


def test_a_read_only_file_system_is_named(tmp_path, monkeypatch):
    real = os.statvfs

    class ReadOnly:
        def __init__(self, result):
            self._result = result
            self.f_flag = result.f_flag | os.ST_RDONLY

        def __getattr__(self, name):
            return getattr(self._result, name)

    monkeypatch.setattr(os, "statvfs", lambda path: ReadOnly(real(path)))
    with pytest.raises(BadInput) as refused:
        runs.check_destination(tmp_path / "model", 10)
    assert str(refused.value) == (
        f"{tmp_path / 'model'}: {tmp_path} is on a read-only file system; choose another --output-dir"
    )
    (tmp_path / "mounted").mkdir()  # the folder itself is the read-only one (a mount point): named once
    with pytest.raises(BadInput) as refused:
        runs.check_destination(tmp_path / "mounted", 10)
    assert str(refused.value) == f"{tmp_path / 'mounted'} is on a read-only file system; choose another --output-dir"


def test_a_full_disk_is_named_with_what_the_model_needs(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 2_000_000, 2_000_000))
    with pytest.raises(OcrbatchError) as refused:
        runs.check_destination(tmp_path / "model", 5_000_000)
    assert refused.value.exit_code == 3
    assert "the model needs 5.0 MB and" in str(refused.value) and "has 2.0 MB free" in str(refused.value)
    runs.check_destination(tmp_path / "model", 1_000_000)  # room enough: no complaint


def test_a_file_in_the_way_is_named(tmp_path):
    (tmp_path / "model").write_text("not a folder")
    with pytest.raises(BadInput, match="is not a folder"):
        runs.check_destination(tmp_path / "model" / "inner", 1)


def test_a_download_is_staged_beside_its_folder_unless_that_folder_is_a_mount_point(tmp_path, monkeypatch):
    dest = tmp_path / "model"
    assert staging_folder(dest) == tmp_path
    dest.mkdir()
    assert staging_folder(dest) == tmp_path
    real_stat = os.stat

    def mounted(path, *args, **kwargs):
        result = real_stat(path, *args, **kwargs)
        if os.fspath(path) == os.fspath(dest):  # a file system of its own, as a mount point has
            return os.stat_result((*result[:2], result.st_dev + 1, *result[3:]))
        return result

    monkeypatch.setattr(os, "stat", mounted)
    assert staging_folder(dest) == dest


def test_a_disk_error_anywhere_is_one_line_naming_the_path_at_fault():
    import errno

    from ocrbatch.cli.common import one_line

    read_only = OSError(errno.EROFS, "Read-only file system", "/mnt/ro/home")
    assert one_line(read_only) == ("cannot write /mnt/ro/home: Read-only file system; choose a writable folder", 3)
    # A copy names its source first and its destination second: the full disk is the destination's.
    full = OSError(errno.ENOSPC, "No space left on device", "/store/shard.tar", None, "/small/x/shard.tar")
    assert one_line(full) == ("cannot write /small/x/shard.tar: No space left on device; "
                              "free some space or choose a folder on another disk", 3)
    assert one_line(OSError(errno.EIO, "Input/output error")) == ("Input/output error", 3)
    assert not one_line(read_only)[0].startswith("OSError")
