"""Reading zip members one at a time, including Zstandard-compressed ones.

Inspect AI writes ``.eval`` logs as zips whose members are compressed with Zstandard (zip
method 93), which the ``zipfile`` module of Python before 3.14 cannot decompress. We find each
member's compressed bytes through its local header and decompress them ourselves: with the
standard library's ``compression.zstd`` where it exists, else with pyarrow's zstd codec
(pyarrow is already a dependency, for Parquet).
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from lzma import LZMAError
from typing import BinaryIO

from importers.guard import MAX_MEMBER_BYTES

ZSTD_METHOD = 93
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"


class MemberError(ValueError):
    pass


def _zstd_decompress(data: bytes, size: int) -> bytes:
    try:
        from compression import zstd  # Python 3.14+
    except ImportError:
        zstd = None
    if zstd is not None:
        return zstd.decompress(data)
    import pyarrow as pa

    try:
        return pa.decompress(data, decompressed_size=size, codec="zstd", asbytes=True)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise MemberError(f"corrupt zstd data: {exc}") from None


def _compressed_bytes(fileobj: BinaryIO, info: zipfile.ZipInfo) -> bytes:
    fileobj.seek(info.header_offset)
    header = fileobj.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != _LOCAL_SIGNATURE:
        raise MemberError("bad local file header")
    fields = _LOCAL_HEADER.unpack(header)
    name_len, extra_len = fields[-2], fields[-1]
    fileobj.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)
    data = fileobj.read(info.compress_size)
    if len(data) != info.compress_size:
        raise MemberError("member data is truncated")
    return data


def read_member(zf: zipfile.ZipFile, fileobj: BinaryIO, info: zipfile.ZipInfo) -> bytes:
    """The decompressed bytes of one member; ``MemberError`` when it cannot be read
    (corrupt, encrypted, or declaring more than ``MAX_MEMBER_BYTES``: a zip bomb)."""
    if info.flag_bits & 0x1:
        raise MemberError(
            "the member is encrypted (password protected): export the log again without a password"
        )
    if info.file_size > MAX_MEMBER_BYTES:
        raise MemberError(
            f"it would decompress to {info.file_size:,} bytes, over the "
            f"{MAX_MEMBER_BYTES:,}-byte limit for one member (a zip bomb?)"
        )
    if info.compress_type == ZSTD_METHOD:
        data = _zstd_decompress(_compressed_bytes(fileobj, info), info.file_size)
        if len(data) != info.file_size:
            raise MemberError(f"decompressed to {len(data)} bytes, expected {info.file_size}")
        if zlib.crc32(data) != info.CRC:
            raise MemberError("CRC check failed: the member is corrupt")
        return data
    try:
        return zf.read(info)
    except (
        zipfile.BadZipFile,
        NotImplementedError,
        OSError,
        EOFError,
        RuntimeError,
        zlib.error,
        ValueError,
        LZMAError,
    ) as exc:
        raise MemberError(
            f"{type(exc).__name__}: {exc}" if type(exc) is not MemberError else str(exc)
        ) from None
