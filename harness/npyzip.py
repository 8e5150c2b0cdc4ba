"""The container layer of ``.npz`` prediction files: the zip archive and its ``.npy`` members.

Nothing an archive declares is trusted. ``zipfile`` and ``numpy.lib.format`` are written for files
their users made themselves; here the file comes from a stranger, so this module

- opens the archive through a reader that refuses to hand ``zipfile`` a central directory larger
  than the member limit can need (``zipfile`` builds one object per entry before anyone can count
  them);
- refuses, with a message, what ``zipfile`` would raise ``RuntimeError`` or
  ``NotImplementedError`` for (encrypted members, compression methods other than stored and
  deflated, zip versions it does not know) and what ``numpy.load`` would refuse or read
  ambiguously (data before the archive, two members of one name);
- parses ``.npy`` headers itself: a length-checked ``ast.literal_eval`` of at most 10,000 bytes
  (numpy's own limit), exact keys, a shape of non-negative ``int``, a dtype string of the form
  numpy writes (``'<f8'``, ``'<U12'``, ``'|b1'``); numpy's Python-2 fallback (``tokenize``) is
  never run;
- reads array data in bounded chunks into one preallocated array, requires the member to end
  exactly where the data ends, and reads to the end so that the CRC is checked.

Every failure is a :class:`Refused` with a problem code and a message; callers turn it into a
:class:`~harness.errors.Problem`.
"""

from __future__ import annotations

import ast
import re
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ZIP_LOCAL_MAGIC = b"PK\x03\x04"
ZIP_EMPTY_MAGIC = b"PK\x05\x06"  # an archive with no member starts with its end record
NPY_MAGIC = b"\x93NUMPY"
MAX_HEADER_BYTES = 10_000  # numpy.lib.format's default max_header_size
MAX_NDIM = 32
READ_CHUNK = 1 << 20
# A central-directory entry numpy writes takes about 100 bytes; this allows ten times that.
CD_BYTES_PER_MEMBER = 1024
# zipfile reads up to 64 KiB + 22 bytes from the end of the file to find the end record.
_EOCD_SEARCH = (1 << 16) + 64

# Zip flag bits (APPNOTE 4.4.4) and methods that zipfile cannot read without help.
_FLAG_ENCRYPTED = 0x1
_FLAG_PATCHED = 0x20
_FLAG_STRONG = 0x40
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
_METHOD_NAMES = {1: "shrunk", 6: "imploded", 9: "deflate64", 12: "bzip2", 14: "lzma",
                 93: "zstandard", 95: "xz", 98: "ppmd", 99: "AES-encrypted"}

# What numpy writes as a header's descr (``dtype.str``): byte order, kind, item size.
_DESCR = re.compile(r"[<>|=]?(?:b1|[iu][1248]|f(?:2|4|8|12|16)|c(?:8|16|24|32)|[USV]\d{1,10}|O8?"
                    r"|[Mm]8(?:\[\d{0,3}[a-zA-Z]{1,3}\])?)")
# Errors the zip and deflate layers raise for a damaged archive (zipfile.BadZipFile is a
# subclass of Exception only; UnicodeDecodeError of a member name is a ValueError; a zip64 offset
# past 2**63 makes file.seek raise OverflowError).
ZIP_ERRORS = (zipfile.BadZipFile, EOFError, OSError, ValueError, OverflowError, zlib.error)


class Refused(Exception):
    """A file the reader will not read: ``code`` is a problem code, ``message`` says why."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def show(name: str, n: int = 60) -> str:
    """repr of a name from the file, cut to n characters first (names may be 64 KiB long)."""
    return repr(name[:n]) + ("..." if len(name) > n else "")


# --------------------------------------------------------------------------- the archive

class _CentralDirectoryTooLarge(Exception):
    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


class _CappedFile:
    """A read-only file for ``zipfile.ZipFile`` that refuses any single read over ``limit``.

    While the archive is opened, ``zipfile`` reads its end record (at most 64 KiB) and then its
    whole central directory in one ``read(size)``, ``size`` as the file declares it; this is where
    an archive of a million tiny entries would turn into a million objects. With the limit set,
    that read raises :class:`_CentralDirectoryTooLarge` instead.
    """

    def __init__(self, f, limit: int | None):
        self._f = f
        self.limit = limit

    def read(self, n: int | None = -1) -> bytes:
        if self.limit is not None:
            want = n
            if want is None or want < 0:
                here = self._f.tell()
                want = self._f.seek(0, 2) - here
                self._f.seek(here)
            if want > self.limit:
                raise _CentralDirectoryTooLarge(want)
        return self._f.read(n)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self._f.close()


@contextmanager
def open_archive(path: Path, max_members: int) -> Iterator[zipfile.ZipFile]:
    """Open ``path`` as a zip archive that numpy would load and that names each member once
    (a context manager; the file is closed on leaving it).

    Raises Refused: E101 for anything that is not such an archive, E107 for more than
    ``max_members`` members.
    """
    try:
        raw = open(path, "rb")  # noqa: SIM115 -- closed when the archive is left
        head = raw.read(4)
        raw.seek(0)
    except OSError as exc:
        raise Refused("E101", f"cannot read the file: {exc}") from None
    if head not in (ZIP_LOCAL_MAGIC, ZIP_EMPTY_MAGIC):
        raw.close()
        if head[:2] == b"PK":
            raise Refused("E101", "the file does not start with a zip member header; the "
                                  "archive is damaged, or bytes were put in front of it")
        raise Refused("E101", "not a zip archive (an .npz starts with the bytes 'PK'); it may "
                              "be another format renamed to .npz, or have bytes in front of the "
                              "archive")
    capped = _CappedFile(raw, max(_EOCD_SEARCH, max_members * CD_BYTES_PER_MEMBER))
    try:
        zf = zipfile.ZipFile(capped)
    except _CentralDirectoryTooLarge as exc:
        raw.close()
        raise Refused("E107", f"the archive's central directory is {exc.size} bytes, more than "
                              f"{max_members} members can need (at most {max_members} members "
                              f"are read; set AMGE_EVAL_MAX_MEMBERS to raise it)") from None
    except NotImplementedError as exc:  # zipfile: "zip file version 9.9"
        raw.close()
        raise Refused("E101", f"the archive needs a zip feature amge-eval does not read ({exc}); re-save it "
                              f"with np.savez or np.savez_compressed") from None
    except ZIP_ERRORS as exc:
        raw.close()
        raise Refused("E101", f"not a readable .npz (zip) file ({type(exc).__name__}: "
                              f"{str(exc)[:200]}); it may be truncated or another format renamed "
                              f"to .npz") from None
    capped.limit = None
    try:
        _check_archive(zf, max_members)
        yield zf
    finally:
        zf.close()
        raw.close()


def _check_archive(zf: zipfile.ZipFile, max_members: int) -> None:
    infos = zf.infolist()
    if len(infos) > max_members:
        raise Refused("E107", f"the archive has {len(infos)} members, over the limit of "
                              f"{max_members} (a prediction file has at most a dozen; set "
                              f"AMGE_EVAL_MAX_MEMBERS to raise it)")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        counts: dict[str, int] = {}
        for n in names:
            counts[n] = counts.get(n, 0) + 1
        dups = [n for n, c in counts.items() if c > 1]
        raise Refused("E101", f"the archive holds {len(dups)} member names more than once "
                              f"({', '.join(show(d) for d in dups[:5])}); a reader would take "
                              f"one of them and ignore the other: keep one member per name")
    if infos and min(i.header_offset for i in infos) != 0:
        raise Refused("E101", "the archive does not begin at the start of the file (bytes were "
                              "put in front of it, or its directory is damaged); numpy refuses "
                              "such files: re-save it")


def open_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str):
    """Open a member for reading after refusing what zipfile would raise a RuntimeError or
    NotImplementedError for."""
    flags = info.flag_bits
    if flags & (_FLAG_ENCRYPTED | _FLAG_STRONG):
        raise Refused("E101", f"member {show(key)} is encrypted; amge-eval reads only "
                              f"unencrypted archives, as np.savez writes them")
    if flags & _FLAG_PATCHED:
        raise Refused("E101", f"member {show(key)} is stored as compressed patch data (zip flag "
                              f"bit 5), which amge-eval does not read; re-save with np.savez")
    if info.compress_type not in _METHODS:
        name = _METHOD_NAMES.get(info.compress_type, "unknown")
        raise Refused("E101", f"member {show(key)} uses zip compression method "
                              f"{info.compress_type} ({name}); amge-eval reads stored and "
                              f"deflated members, as np.savez and np.savez_compressed write them")
    try:
        return zf.open(info)
    except ZIP_ERRORS as exc:
        raise Refused("E101", f"member {show(key)} cannot be opened ({type(exc).__name__}: "
                              f"{str(exc)[:200]}); the file is damaged") from None


# --------------------------------------------------------------------------- .npy members

@dataclass(frozen=True)
class NpyHeader:
    shape: tuple[int, ...]
    fortran: bool
    dtype: np.dtype | None  # None when descr is not a plain dtype string (structured, subarray)
    descr: str  # for messages
    offset: int  # bytes before the array data (magic, version, length, header)

    @property
    def count(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.count * (self.dtype.itemsize if self.dtype is not None else 0)

    @property
    def kind(self) -> str:
        """numpy's dtype kind, with 'V' for descriptors that are not plain dtype strings."""
        return self.dtype.kind if self.dtype is not None else "V"


def _read_exact(f, n: int, what: str, key: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise Refused("E101", f"member {show(key)} is truncated: it ends inside its {what}")
    return data


def read_header(f, key: str) -> NpyHeader:
    """Parse a .npy header from ``f`` (positioned at the start of the member)."""
    magic = f.read(6)
    if magic != NPY_MAGIC:
        if magic[:1] == b"\x80":
            raise Refused("E104", f"member {show(key)} is a pickle, not a .npy array; pickles are "
                                  f"never loaded")
        raise Refused("E101", f"member {show(key)} is not a .npy array (it does not start with "
                              f"the .npy magic bytes)")
    version = tuple(_read_exact(f, 2, "version", key))
    if version == (1, 0):
        length = int.from_bytes(_read_exact(f, 2, "header length", key), "little")
        offset = 10 + length
    elif version in ((2, 0), (3, 0)):
        length = int.from_bytes(_read_exact(f, 4, "header length", key), "little")
        offset = 12 + length
    else:
        raise Refused("E101", f"member {show(key)} has .npy version {version[0]}.{version[1]}; "
                              f"numpy writes 1.0, 2.0 and 3.0")
    if length > MAX_HEADER_BYTES:
        raise Refused("E101", f"member {show(key)} has a {length}-byte .npy header; numpy refuses "
                              f"headers over {MAX_HEADER_BYTES} bytes, and so does amge-eval")
    raw = _read_exact(f, length, "header", key)
    try:
        text = raw.decode("utf-8" if version == (3, 0) else "latin-1")
        d = ast.literal_eval(text)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError) as exc:
        raise Refused("E101", f"member {show(key)} has a .npy header that is not a Python "
                              f"literal ({type(exc).__name__}); re-save it with numpy") from None
    if not isinstance(d, dict) or set(d) != {"descr", "fortran_order", "shape"}:
        raise Refused("E101", f"member {show(key)} has a .npy header without exactly the keys "
                              f"descr, fortran_order and shape")
    shape, fortran, descr = d["shape"], d["fortran_order"], d["descr"]
    if not isinstance(shape, tuple) or not all(type(x) is int for x in shape):
        raise Refused("E101", f"member {show(key)} has a .npy header whose shape is not a tuple "
                              f"of integers: {repr(shape)[:80]}")
    if len(shape) > MAX_NDIM:
        raise Refused("E101", f"member {show(key)} declares {len(shape)} dimensions; numpy "
                              f"arrays have at most {MAX_NDIM} here")
    if any(x < 0 for x in shape):
        raise Refused("E101", f"member {show(key)} declares a negative dimension in its shape "
                              f"{repr(shape)[:80]}; numpy refuses such files")
    if type(fortran) is not bool:
        raise Refused("E101", f"member {show(key)} has a .npy header whose fortran_order is not "
                              f"True or False")
    dtype = None
    if isinstance(descr, str):
        if not _DESCR.fullmatch(descr):
            raise Refused("E101", f"member {show(key)} has the dtype descriptor {show(descr, 40)}, "
                                  f"which is not a dtype string numpy writes (such as '<f8' or "
                                  f"'<U12'); re-save it with numpy")
        try:
            dtype = np.dtype(descr)
        except (TypeError, ValueError, OverflowError):
            raise Refused("E101", f"member {show(key)} has the dtype descriptor "
                                  f"{show(descr, 40)}, which numpy does not understand") from None
        shown = str(dtype)
    elif isinstance(descr, list | tuple):
        shown = "structured"
    else:
        raise Refused("E101", f"member {show(key)} has a .npy header whose descr is neither a "
                              f"string nor a list")
    return NpyHeader(shape, fortran, dtype, shown, offset)


def check_size(header: NpyHeader, info: zipfile.ZipInfo, key: str) -> None:
    """The member must hold exactly the bytes its header describes: no more, no fewer."""
    have = info.file_size - header.offset
    if have != header.nbytes:
        what = "truncated" if have < header.nbytes else "longer than its array"
        raise Refused("E101", f"member {show(key)} is {what}: its header declares "
                              f"{header.nbytes} bytes of data but the member holds {max(have, 0)}")


def read_data(f, header: NpyHeader, key: str) -> np.ndarray:
    """Read the array data that follows the header, in chunks, into one new array.

    The caller has checked the header's size against the member (:func:`check_size`) and its
    shape and dtype against what the key may hold; the array's bytes are within the size cap.
    """
    dtype = header.dtype
    if dtype is None:
        raise ValueError("read_data needs a plain dtype")
    order = "F" if header.fortran else "C"
    raw = np.empty(header.nbytes, dtype=np.uint8)
    view = memoryview(raw)
    pos = 0
    try:
        while pos < header.nbytes:
            chunk = f.read(min(READ_CHUNK, header.nbytes - pos))
            if not chunk:
                raise Refused("E101", f"member {show(key)} is truncated: its data ends after "
                                      f"{pos} of {header.nbytes} bytes")
            view[pos:pos + len(chunk)] = chunk
            pos += len(chunk)
        if f.read(1):  # reading to the end also makes zipfile check the member's CRC
            raise Refused("E101", f"member {show(key)} holds bytes after its array data")
    except ZIP_ERRORS as exc:
        raise Refused("E101", f"member {show(key)} cannot be read ({type(exc).__name__}: "
                              f"{str(exc)[:200]}); the file is damaged or truncated") from None
    if dtype.itemsize == 0:  # no data: numpy.ndarray instantiates zero-width strings correctly
        arr = np.ndarray(header.shape, dtype=dtype, order=order)
    else:
        arr = raw.view(dtype).reshape(header.shape, order=order)
    if not dtype.isnative:
        arr = arr.astype(dtype.newbyteorder("="))
    return arr
