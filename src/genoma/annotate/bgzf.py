"""A BGZF (blocked gzip) writer that compresses blocks on several threads.

BGZF (SAM/BAM specification, section 4.1) is a series of independent gzip members of at
most 64 KiB, each with a ``BC`` extra field giving its size, closed by an empty block:
the format ``bgzip``/htslib write and tabix indexes. Blocks are independent, so they are
deflated in parallel (:mod:`zlib` releases the GIL while compressing); the annotated VCF
(≈ 0.5 kB of ``CSQ`` text per record) is otherwise dominated by compression time.
"""

from __future__ import annotations

import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

__all__ = ["DEFAULT", "BgzfWriter"]

_BLOCK_IN = 0xFF00  # input bytes per block (htslib's BGZF_BLOCK_SIZE): always fits 64 KiB
_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
_HEAD = struct.Struct("<4BI2BH2BHH")


try:  # ISA-L deflate (python-isal): ~8x faster than zlib at a similar ratio to zlib level 1
    from isal import isal_zlib as _isal
except ImportError:  # pragma: no cover - optional
    _isal = None

_crc32 = _isal.crc32 if _isal is not None else zlib.crc32  # the same CRC-32; ISA-L's ≈ 5× faster

#: Compression used when no level is given: ISA-L level 2 when installed, else zlib level 6.
DEFAULT = "isal:2" if _isal is not None else "zlib:6"


def _block(data: bytes | memoryview, level: int) -> bytes:
    if level < 0:  # ISA-L level -level - 1 (0..3)
        assert _isal is not None
        comp = _isal.compress(data, -level - 1, wbits=-15)
    else:
        comp = zlib.compress(data, level, wbits=-15)
    if len(comp) > 0xFFFF - 26:  # incompressible: store
        comp = zlib.compress(data, 0, wbits=-15)
    head = _HEAD.pack(0x1F, 0x8B, 8, 4, 0, 0, 0xFF, 6, 66, 67, 2, len(comp) + 25)
    return head + comp + struct.pack("<2I", _crc32(data), len(data))


class BgzfWriter:
    """Write text to a ``.gz`` file in BGZF blocks (readable by gzip, htslib, tabix).

    Parameters
    ----------
    path
        Output file.
    level
        zlib compression level (1 fastest … 9 smallest; htslib's default is 6), or
        ``None``: :data:`DEFAULT` (ISA-L level 2 when ``isal`` is installed: ≈ 8× less CPU
        than zlib 6 for a ≈ 25 % larger file on annotated VCFs).
    threads
        Compression threads.
    """

    def __init__(self, path: str | Path, *, level: int | None = None, threads: int = 2):
        if level is None:
            level = -3 if _isal is not None else 6  # internal code: -(isal level) - 1
        elif not 0 <= level <= 9:
            raise ValueError(f"compression level {level} not in 0..9")
        self._fh = open(path, "wb")
        self._level = level
        self._pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 else None
        self._buf: list[bytes] = []
        self._size = 0
        self._rest = b""  # the start of the next block (shorter than a block)
        self._pending: list = []

    def write(self, text: str) -> None:
        """Append text (UTF-8)."""
        data = text.encode()
        self._buf.append(data)
        self._size += len(data)
        if self._size >= 64 * _BLOCK_IN:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        # the stream (pending start + written data) cut in consecutive blocks of _BLOCK_IN
        # bytes; full blocks are views of the written data (no copy of the whole text)
        chunks: list[bytes | memoryview] = []
        rest = self._rest
        for data in self._buf:
            off = 0
            if rest:
                off = _BLOCK_IN - len(rest)
                rest += data[:off]
                if len(rest) < _BLOCK_IN:
                    continue
                chunks.append(rest)
                rest = b""
            n_full = (len(data) - off) // _BLOCK_IN
            view = memoryview(data)
            chunks += [view[off + i * _BLOCK_IN:off + (i + 1) * _BLOCK_IN] for i in range(n_full)]
            rest = data[off + n_full * _BLOCK_IN:]
        if final and rest:
            chunks.append(rest)
            rest = b""
        self._buf, self._size, self._rest = [], 0, rest
        for fut in self._pending:  # keep at most one batch in flight
            self._fh.write(fut.result() if not isinstance(fut, bytes) else fut)
        if self._pool is not None:
            self._pending = [self._pool.submit(_block, c, self._level) for c in chunks]
        else:
            self._pending = [_block(c, self._level) for c in chunks]

    def close(self) -> None:
        """Write the remaining blocks and the end-of-file marker."""
        if self._fh.closed:
            return
        try:
            self._flush(final=True)
            self._flush(final=True)  # drain the in-flight batch
            self._fh.write(_EOF)
        finally:
            self._fh.close()
            if self._pool is not None:
                self._pool.shutdown()

    def __enter__(self) -> BgzfWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
