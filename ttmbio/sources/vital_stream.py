"""Wave tracks of a ``.vital`` file in one streaming pass, with memory flat in its length.

``vitaldb.VitalFile`` parses a whole file into memory, and it can stop after a file's first N
seconds (``maxlen``) but not read a time range; a packed file (what ``to_vital`` writes, and
the synthetic default) even holds each wave track as one record. A 12-hour case would be held
whole, twice while it is copied out. This reader decompresses the file once and copies the
sample bytes of the tracks asked for to an anonymous temporary file (in ``TMPDIR``) as they
stream past, a MiB at a time; a range of a track is then read back on demand
(:class:`TrackSamples`) with the values ``vitaldb``'s ``get_track_samples(track, 1 / srate)``
gives: the same length, records placed and overlapping ones overwritten in file order, gain
and offset applied to integer formats, infinities and values above 4e9 as NaN. What stays in
memory is an index of the records of the tracks asked for (48 bytes each: one per track for a
packed file, one per second per track for a file as Vital Recorder writes it). Reading to the
end of the stream also proves the gzip stream whole, so a truncated file is caught without a
second pass.

Differences from ``vitaldb`` (1.7, the pinned version), on purpose: tracks are matched by their
exact names (``vitaldb`` also matches name suffixes, so an unrelated track could widen the
recording); the 4-byte integer formats are read as 4-byte integers (``vitaldb`` reads them
with numpy's platform ``long``, 8 bytes on Linux, and fails); every record of a wanted track
counts, where ``vitaldb`` stops a packed file after the last wanted track's block (the same
for files whose tracks' records lie in blocks, as ``to_vital`` writes them); a record's
sample count is read after its info bytes even when they are fewer than the 10 every writer
puts there; a track with no record at all has no samples (vitaldb gives all-NaN ones, or
fails when the header has no start time), which the reader's caller refuses either way. A
track whose rate is not a whole number of hertz is resampled by ``vitaldb`` onto its
interval grid; such a track is read whole.
"""

from __future__ import annotations

import gzip
import os
import struct
import tempfile
import weakref
import zlib
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from ttmbio.errors import CaseError, TtmbioError

_FORMATS = {1: "<f4", 2: "<f8", 3: "i1", 4: "u1", 5: "<i2", 6: "<u2", 7: "<i4", 8: "<u4"}
_WAVE, _NUMERIC = 1, 2
COPY_BYTES = 1 << 20  # bytes moved from a stream at a time
_MAX_UNPACKED_PACKET = 1_000_000  # vitaldb stops at a larger packet in an unpacked file
_TO_END = 1 << 62


def unreadable(path: Path, err: BaseException) -> CaseError:
    return CaseError(f"{path}: not a readable .vital file ({err}); re-download or remove it")


def truncated(path: Path) -> CaseError:
    return CaseError(
        f"{path}: truncated .vital file (gzip stream ends early); re-download or remove it"
    )


class SpillError(TtmbioError, OSError):
    """The temporary copy of a file's samples could not be written (a full ``TMPDIR``): a
    one-line error that stops the stage, since no recording is at fault."""


class _Spill:
    """An anonymous temporary file, read by offset (``pread``: no shared position, so reads
    stay right in forked workers), closed when the last reader of it is gone."""

    def __init__(self) -> None:
        try:
            self.file = tempfile.TemporaryFile(prefix="ttmbio-vital-")  # noqa: SIM115
        except OSError as err:
            raise _spill_error(err) from err
        weakref.finalize(self, self.file.close)

    def append(self, data: bytes) -> None:
        try:
            self.file.write(data)
        except OSError as err:
            raise _spill_error(err) from err

    def finish(self) -> None:
        """Flush what is buffered: a full disk shows here, not at the first read."""
        try:
            self.file.flush()
        except OSError as err:
            raise _spill_error(err) from err

    def tell(self) -> int:
        return self.file.tell()

    def read(self, offset: int, size: int) -> bytes:
        return os.pread(self.file.fileno(), size, offset)


def spill_error(where: str | Path, what: str, err: OSError) -> SpillError:
    """The one-line error for a temporary file under ``where`` that could not take ``what``."""
    return SpillError(
        f"{where}: cannot write {what} ({err}); free space there or point TMPDIR at a larger disk"
    )


def _spill_error(err: OSError) -> SpillError:
    return spill_error(tempfile.gettempdir(), "the temporary copy of a recording's samples", err)


@dataclass
class VitalTrack:
    """One track's header fields and where its records' samples lie in the spill file."""

    name: str
    kind: int  # 1 wave, 2 numeric, 5 string
    fmt: int
    srate: float
    gain: float
    offset: float
    dt: array = field(default_factory=lambda: array("d"))  # each record's start time
    nsamp: array = field(default_factory=lambda: array("q"))  # -1: dropped, as in vitaldb
    byte: array = field(default_factory=lambda: array("q"))  # its samples' offset

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(_FORMATS[self.fmt])


@dataclass
class _Times:
    """What each record of a name adds to the recording's span, in file order; kept apart
    from the track because a repeated track header drops the samples but not the times."""

    seq: array = field(default_factory=lambda: array("q"))
    dt: array = field(default_factory=lambda: array("d"))
    end: array = field(default_factory=lambda: array("d"))


class TrackSamples:
    """A wave track's samples, read from the spill file a range at a time.

    Behaves as the 1-D float32 array ``vitaldb`` would return for the track where the windows
    stage uses one: ``len``, slicing with a step of 1, and ``np.asarray`` for the whole track.
    """

    ndim = 1
    dtype = np.dtype(np.float32)

    def __init__(self, spill: _Spill, track: VitalTrack, dtstart: float, n: int) -> None:
        self._spill, self.track, self._n = spill, track, n
        nsamp = np.frombuffer(track.nsamp, dtype=np.int64)
        dt = np.frombuffer(track.dt, dtype=np.float64)
        byte = np.frombuffer(track.byte, dtype=np.int64)
        # placed exactly as vitaldb places them: int(np.ceil((dt - dtstart) * srate))
        start = np.ceil((dt - dtstart) * track.srate).astype(np.int64)
        first, stop = np.maximum(start, 0), np.minimum(start + nsamp, n)
        keep = (nsamp >= 0) & (first < stop)
        # (start sample, first sample kept, stop sample, byte offset), in file order
        self._start, self._first = start[keep], first[keep]
        self._stop, self._byte = stop[keep], byte[keep]

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

    def __array__(self, dtype: Any = None, /, *, copy: Any = None) -> np.ndarray:
        whole = self._read(0, self._n)
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def _read(self, lo: int, hi: int) -> np.ndarray:
        out = np.full(hi - lo, np.nan, dtype=np.float32)
        item = self.track.dtype.itemsize
        overlap = np.flatnonzero((self._first < hi) & (self._stop > lo))
        for i in overlap:  # in file order: a later record overwrites an earlier one
            a, b = max(int(self._first[i]), lo), min(int(self._stop[i]), hi)
            raw = self._spill.read(
                int(self._byte[i]) + (a - int(self._start[i])) * item, (b - a) * item
            )
            out[a - lo : b - lo] = np.frombuffer(raw, dtype=self.track.dtype)
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


def pump(f: IO[bytes], size: int, out: _Spill | None = None) -> int:
    """Read ``size`` bytes of ``f`` (to ``out`` when given), a MiB at a time; return how many
    there were (fewer at the end of the stream)."""
    done = 0
    while done < size:
        chunk = f.read(min(size - done, COPY_BYTES))
        if not chunk:
            break
        if out is not None:
            out.append(chunk)
        done += len(chunk)
    return done


class VitalStream:
    """The tracks named in ``names`` (exact names) of a ``.vital`` file, read in one pass.

    Their samples stay in an anonymous temporary file as long as the stream or any
    :class:`TrackSamples` from it lives. Raises :class:`CaseError` naming the file for a file
    that is not a whole ``.vital`` gzip stream, and :class:`SpillError` when the temporary
    copy cannot be written.
    """

    def __init__(self, path: Path, names: Iterable[str] | None, header_only: bool = False) -> None:
        """Read ``names`` (every track when None); ``header_only`` reads no samples, and
        times each record by its start alone, as ``vitaldb``'s ``header_only`` does."""
        self.path = Path(path)
        self.tracks: dict[str, VitalTrack] = {}
        self.header_dtstart = self.header_dtend = 0.0
        self.dgmt = 0  # minutes from local time to UTC, as the file's header gives it
        self._times: dict[str, _Times] = {}
        # the samples' temporary file; none for a header-only read, which keeps no samples
        self._spill = None if header_only else _Spill()
        try:
            with gzip.open(self.path, "rb") as f:
                self._parse(f, None if names is None else set(names))
            if self._spill is not None:
                self._spill.finish()
        except EOFError:
            raise truncated(self.path) from None
        except SpillError:
            raise
        except (gzip.BadGzipFile, zlib.error, OSError, struct.error) as err:
            raise unreadable(self.path, err) from None

    def track_names(self) -> list[str]:
        return list(self.tracks)

    def _parse(self, f: IO[bytes], wanted: set[str] | None) -> None:
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
            if length == 0 or (not packed and length > _MAX_UNPACKED_PACKET):
                pump(f, _TO_END)  # vitaldb stops here; the rest is only checked to be whole
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
                        if wanted is None or track.name in wanted:
                            tid_names[tid], self.tracks[track.name] = track.name, track
                            self._times.setdefault(track.name, _Times())
                continue
            if length < 12:
                if pump(f, length) < length:
                    break
                continue
            first = f.read(12)
            if len(first) < 12:
                break
            infolen, dt, tid = struct.unpack("<HdH", first)
            if tid not in tid_names:
                # vitaldb skips the rest of a packed file's block of an unread track
                rest = max(length, reclens.get(tid, 0) - 5) - 12
                if pump(f, rest) < rest:
                    break
                continue
            if not self._record(f, self.tracks[tid_names[tid]], seq, dt, infolen, length):
                break
            seq += 1

    def _record(
        self, f: IO[bytes], track: VitalTrack, seq: int, dt: float, infolen: int, length: int
    ) -> bool:
        """Read one record's samples (its first 12 bytes are read); False at the stream's end.

        Its time counts in the span even when vitaldb drops its samples (too short)."""
        used = min(max(2 + infolen, 12), length)
        whole = pump(f, used - 12) == used - 12
        nsamp = -1
        if whole and self._spill is not None and track.kind == _WAVE and length >= used + 4:
            raw = f.read(4)
            whole = len(raw) == 4
            if whole:
                (count,) = struct.unpack("<L", raw)
                used += 4
                if length >= used + count * track.dtype.itemsize:
                    offset = self._spill.tell()
                    size = count * track.dtype.itemsize
                    whole = pump(f, size, self._spill) == size
                    if whole:
                        nsamp = count
                        used += size
                        track.dt.append(dt)
                        track.nsamp.append(nsamp)
                        track.byte.append(offset)
        if whole:
            whole = pump(f, length - used) == length - used
        times = self._times[track.name]
        times.seq.append(seq)
        times.dt.append(dt)
        wave = track.kind == _WAVE and nsamp >= 0 and track.srate > 0
        times.end.append(dt + nsamp / track.srate if wave else dt)
        return whole

    def span(self, names: Sequence[str]) -> tuple[float, float]:
        """``(dtstart, dtend)`` as ``vitaldb`` works them out when it reads ``names`` alone."""
        start, end = self.header_dtstart, self.header_dtend
        if not names:
            return start, end
        seq = np.concatenate([np.frombuffer(self._times[n].seq, dtype=np.int64) for n in names])
        dt = np.concatenate([np.frombuffer(self._times[n].dt, dtype=np.float64) for n in names])
        ends = [np.frombuffer(self._times[n].end, dtype=np.float64) for n in names]
        if len(seq) == 0:
            return start, end
        end = max(end, float(np.concatenate(ends).max()))
        for t in dt[np.argsort(seq, kind="stable")].tolist():  # vitaldb's rule, in file order
            if start == 0 or (t > 0 and t < start):
                start = t
        return start, end

    def samples(self, name: str, span: tuple[float, float]) -> np.ndarray | TrackSamples:
        """Wave track ``name`` over ``span`` (from :meth:`span`), at its own rate."""
        track = self.tracks[name]
        dtstart, dtend = span
        if dtend <= dtstart or len(track.nsamp) == 0:  # no samples at all (a CaseError later)
            return np.zeros(0, dtype=np.float32)
        n = int(np.ceil((dtend - dtstart) * track.srate))
        samples = TrackSamples(self._spill, track, dtstart, n)
        interval = 1.0 / track.srate
        if track.srate == int(1 / interval + 0.5):
            return samples
        # vitaldb puts a track of a fractional rate on its interval grid by nearest sample
        nret = int(np.ceil((dtend - dtstart) / interval))
        return np.take(np.asarray(samples), np.linspace(0, n - 1, nret).astype(np.int64))
