"""Wave tracks of a ``.vital`` file in one streaming pass, with memory flat in its length.

``vitaldb.VitalFile`` parses a whole file into memory, and it can stop after a file's first N
seconds (``maxlen``) but not read a time range; a packed file (what ``to_vital`` writes, and
the synthetic default) even holds each wave track as one record. A 12-hour case would be held
whole, twice while it is copied out. This reader decompresses the file once and copies the
sample bytes of the tracks asked for to an anonymous temporary file as they stream past, a
MiB at a time; a range of a track is then read back on demand (:class:`TrackSamples`) with the
values ``vitaldb``'s ``get_track_samples(track, 1 / srate)`` gives: the same length, records
placed and overlapping ones overwritten in file order, gain and offset applied to integer
formats, infinities and values above 4e9 as NaN.

Two differences from ``vitaldb``, both on purpose: tracks are matched by their exact names
(``vitaldb`` also matches name suffixes, so an unrelated track could widen the recording), and
the 4-byte integer formats are read as 4-byte integers (``vitaldb`` reads them with numpy's
platform ``long``, 8 bytes on Linux, and fails). A track whose rate is not a whole number of
hertz is resampled by ``vitaldb`` onto its interval grid; such a track is read whole.
"""

from __future__ import annotations

import gzip
import struct
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from ttmbio.errors import CaseError

_FORMATS = {1: "<f4", 2: "<f8", 3: "i1", 4: "u1", 5: "<i2", 6: "<u2", 7: "<i4", 8: "<u4"}
_WAVE, _NUMERIC = 1, 2
_COPY = 1 << 20  # bytes copied from the stream to the spill file at a time
_MAX_UNPACKED_PACKET = 1_000_000  # vitaldb stops at a larger packet in an unpacked file


@dataclass
class _Record:
    seq: int  # position among all records read, for file order across tracks
    dt: float
    nsamp: int  # -1: a record vitaldb drops (too short), though its time still counts
    offset: int = 0  # byte offset of its samples in the spill file


@dataclass
class VitalTrack:
    """One track's header fields and where its records lie."""

    name: str
    kind: int  # 1 wave, 2 numeric, 5 string
    fmt: int
    srate: float
    gain: float
    offset: float
    records: list[_Record] = field(default_factory=list)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(_FORMATS[self.fmt])


class TrackSamples:
    """A wave track's samples, read from the spill file a range at a time.

    Behaves as the 1-D float32 array ``vitaldb`` would return for the track where the windows
    stage uses one: ``len``, slicing with a step of 1, and ``np.asarray`` for the whole track.
    """

    ndim = 1
    dtype = np.dtype(np.float32)

    def __init__(self, spill: IO[bytes], track: VitalTrack, dtstart: float, n: int) -> None:
        self._spill, self.track, self._n = spill, track, n
        srate = track.srate
        # (start sample, first sample kept, stop sample, byte offset), in file order
        self._spans: list[tuple[int, int, int, int]] = []
        for rec in track.records:
            if rec.nsamp < 0:
                continue
            start = int(np.ceil((rec.dt - dtstart) * srate))
            first, stop = max(start, 0), min(start + rec.nsamp, n)
            if first < stop:
                self._spans.append((start, first, stop, rec.offset))

    @property
    def shape(self) -> tuple[int]:
        return (self._n,)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice):
            raise TypeError("track samples are read by slices")
        lo, hi, step = key.indices(self._n)
        if step != 1:
            raise TypeError("track samples are read by slices with a step of 1")
        return self._read(lo, max(lo, hi))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = self._read(0, self._n)
        return whole if dtype is None else whole.astype(dtype)

    def _read(self, lo: int, hi: int) -> np.ndarray:
        out = np.full(hi - lo, np.nan, dtype=np.float32)
        item = self.track.dtype.itemsize
        for start, first, stop, offset in self._spans:
            a, b = max(first, lo), min(stop, hi)
            if a >= b:
                continue
            self._spill.seek(offset + (a - start) * item)
            values = np.frombuffer(self._spill.read((b - a) * item), dtype=self.track.dtype)
            out[a - lo : b - lo] = values
        if self.track.fmt > 2:  # integer formats carry gain and offset; floats do not
            out *= self.track.gain
            out += self.track.offset
        out[np.isinf(out) | (out > 4e9)] = np.nan
        return out


def _str(buf: bytes, pos: int) -> tuple[str, int]:
    (size,) = struct.unpack_from("<L", buf, pos)
    pos += 4
    return buf[pos : pos + size].decode("utf-8", "ignore"), pos + size


def _track_info(buf: bytes, devices: dict[int, str]) -> tuple[int, VitalTrack, int] | None:
    """(tid, track, byte length of its records in a packed file) of a track-info packet."""
    n = len(buf)
    tid, kind, fmt = struct.unpack_from("<HBB", buf, 0)
    if kind in (_WAVE, _NUMERIC) and fmt not in _FORMATS:
        return None  # vitaldb ignores the track
    name, pos = _str(buf, 4)
    srate = gain = offset = 0.0
    did = reclen = 0
    if n > pos:
        _, pos = _str(buf, pos)  # unit
    pos += 4 + 4 + 4  # mindisp, maxdisp, colour
    if n > pos:
        (srate,) = struct.unpack_from("<f", buf, pos)
        pos += 4
    if n > pos:
        (gain,) = struct.unpack_from("<d", buf, pos)
        pos += 8
    if n > pos:
        (offset,) = struct.unpack_from("<d", buf, pos)
        pos += 8
    pos += 1  # monitor type
    if n > pos:
        (did,) = struct.unpack_from("<L", buf, pos)
        pos += 4
    if n > pos:
        (reclen,) = struct.unpack_from("<L", buf, pos)
    full = f"{devices[did]}/{name}" if did and did in devices else name
    return tid, VitalTrack(full, kind, fmt, srate, gain, offset), reclen


class VitalStream:
    """The tracks named in ``names`` (exact names) of a ``.vital`` file, read in one pass.

    Holds an anonymous temporary file with their samples until closed (a context manager).
    Raises :class:`CaseError` naming the file for a file that is not a ``.vital`` gzip stream.
    """

    def __init__(self, path: Path, names: Iterable[str]) -> None:
        self.path = Path(path)
        self.tracks: dict[str, VitalTrack] = {}
        self.header_dtstart = self.header_dtend = 0.0
        self.dgmt = 0  # minutes from local time to UTC, as the file's header gives it
        # open as long as the samples read from it live (closed by close() or with them)
        self._spill: IO[bytes] = tempfile.TemporaryFile(prefix="ttmbio-vital-")  # noqa: SIM115
        try:
            with gzip.open(self.path, "rb") as f:
                self._parse(f, set(names))
        except EOFError:
            self.close()
            raise CaseError(
                f"{self.path}: truncated .vital file (gzip stream ends early); "
                "re-download or remove it"
            ) from None
        except (gzip.BadGzipFile, zlib.error, OSError, struct.error) as err:
            self.close()
            raise CaseError(
                f"{self.path}: not a readable .vital file ({err}); re-download or remove it"
            ) from None
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> VitalStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._spill.close()

    def track_names(self) -> list[str]:
        return list(self.tracks)

    def _parse(self, f: IO[bytes], wanted: set[str]) -> None:
        if f.read(4) != b"VITA":
            raise CaseError(f"{self.path}: not a .vital file (no VITA signature); remove it")
        f.read(4)  # format version
        (size,) = struct.unpack("<H", f.read(2))
        header = f.read(size)
        if size >= 2:
            (self.dgmt,) = struct.unpack_from("<h", header, 0)
        if size >= 26:
            self.header_dtstart, self.header_dtend = struct.unpack_from("<dd", header, 10)
        packed = size >= 27 and header[26] == 1
        devices: dict[int, str] = {}
        tid_names: dict[int, str] = {}  # a later track of the same name replaces it, as in vitaldb
        reclens: dict[int, int] = {}
        seq = 0
        while True:
            head = f.read(5)
            if len(head) < 5:
                break
            kind, length = struct.unpack("<BL", head)
            if not packed and length > _MAX_UNPACKED_PACKET:
                _skip(f, 1 << 62)  # vitaldb stops here; the rest is only checked to be whole
                break
            if kind != 1:  # everything but a record is small (raw device data is skipped)
                buf = f.read(length)
                if len(buf) < length:
                    break
                if kind == 9:  # device info
                    (did,) = struct.unpack_from("<L", buf, 0)
                    devtype, pos = _str(buf, 4)
                    name, pos = _str(buf, pos)
                    devices[did] = name or devtype
                elif kind == 0:  # track info
                    info = _track_info(buf, devices)
                    if info is not None:
                        tid, track, reclens[tid] = info
                        if track.name in wanted:
                            tid_names[tid], self.tracks[track.name] = track.name, track
                continue
            if length < 12:
                _skip(f, length)
                continue
            first = f.read(12)
            infolen, dt, tid = struct.unpack("<HdH", first)
            track = self.tracks[tid_names[tid]] if tid in tid_names else None
            if track is None:
                # vitaldb skips the rest of a packed file's block of an unread track
                _skip(f, max(length, reclens.get(tid, 0) - 5) - 12)
                continue
            seq += 1
            used = min(max(2 + infolen, 12), length)
            _skip(f, used - 12)
            if track.kind != _WAVE:
                track.records.append(_Record(seq, dt, -1))
                _skip(f, length - used)
                continue
            item = track.dtype.itemsize
            nsamp = -1
            if length >= used + 4:
                (nsamp,) = struct.unpack("<L", f.read(4))
                used += 4
                if length < used + nsamp * item:
                    nsamp = -1
            rec = _Record(seq, dt, nsamp, self._spill.tell())
            if nsamp > 0:
                _copy(f, self._spill, nsamp * item)
                used += nsamp * item
            track.records.append(rec)
            _skip(f, length - used)

    def span(self, names: Sequence[str]) -> tuple[float, float]:
        """``(dtstart, dtend)`` as ``vitaldb`` works them out when it reads ``names`` alone."""
        start, end = self.header_dtstart, self.header_dtend
        records = sorted(
            ((r, self.tracks[n]) for n in names for r in self.tracks[n].records),
            key=lambda pair: pair[0].seq,
        )
        for rec, track in records:
            if start == 0 or (rec.dt > 0 and rec.dt < start):
                start = rec.dt
            end = max(end, rec.dt)
            if track.kind == _WAVE and rec.nsamp >= 0 and track.srate > 0:
                end = max(end, rec.dt + rec.nsamp / track.srate)
        return start, end

    def samples(self, name: str, span: tuple[float, float]) -> np.ndarray | TrackSamples:
        """Wave track ``name`` over ``span`` (from :meth:`span`), at its own rate."""
        track = self.tracks[name]
        dtstart, dtend = span
        if dtend <= dtstart:
            return np.zeros(0, dtype=np.float32)
        n = int(np.ceil((dtend - dtstart) * track.srate))
        samples = TrackSamples(self._spill, track, dtstart, n)
        interval = 1.0 / track.srate
        if track.srate == int(1 / interval + 0.5):
            return samples
        # vitaldb puts a track of a fractional rate on its interval grid by nearest sample
        nret = int(np.ceil((dtend - dtstart) / interval))
        return np.take(np.asarray(samples), np.linspace(0, n - 1, nret).astype(np.int64))


def _skip(f: IO[bytes], size: int) -> None:
    while size > 0:
        got = len(f.read(min(size, _COPY)))
        if not got:
            return
        size -= got


def _copy(f: IO[bytes], out: IO[bytes], size: int) -> None:
    while size > 0:
        chunk = f.read(min(size, _COPY))
        if not chunk:
            return
        out.write(chunk)
        size -= len(chunk)
