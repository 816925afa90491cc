"""The streaming .vital reader gives vitaldb's samples a range at a time, holding no file."""

from __future__ import annotations

import gzip
import io
import multiprocessing as mp
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import vitaldb

from ttmbio.errors import CaseError
from ttmbio.sources import vital_stream
from ttmbio.sources.vital_dir import read_track_names
from ttmbio.sources.vital_stream import SpillError, VitalStream

T0 = 1_700_000_000.0


def _vitaldb_samples(path: Path, names: list[str]) -> dict[str, np.ndarray]:
    vf = vitaldb.VitalFile(str(path), track_names=names)
    return {
        n: np.asarray(vf.get_track_samples(n, 1.0 / vf.find_track(n).srate), dtype=np.float32)
        for n in names
    }


def _assert_same(path: Path, names: list[str]) -> None:
    expected = _vitaldb_samples(path, names)
    stream = VitalStream(path, names)
    span = stream.span(names)
    rng = np.random.default_rng(0)
    for name in names:
        samples = stream.samples(name, span)
        want = expected[name]
        assert len(samples) == len(want)
        assert np.asarray(samples).tobytes() == want.tobytes()
        for _ in range(20):
            lo, hi = np.sort(rng.integers(0, len(want) + 1, 2))
            assert samples[lo:hi].tobytes() == want[lo:hi].tobytes()


def _int16_track(vf: vitaldb.VitalFile, name: str, recs: list[dict], srate: float) -> None:
    trk = vf.add_track(name, recs, srate=srate)
    trk.fmt, trk.gain, trk.offset = 5, 0.05, -20.0


def test_packed_file_as_vitaldb_reads_it(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dgmt = T0, -540
    ecg = rng.normal(size=30_000).astype(np.float32)
    ecg[1000:1500] = np.nan
    ecg[7] = np.inf
    vf.add_track("SNUADC/ECG_II", [{"dt": T0, "val": ecg}], srate=500)
    vf.add_track(
        "SNUADC/PLETH",
        [{"dt": T0 + 0.3, "val": rng.normal(size=5_000).astype(np.float32)}],
        srate=100,
    )
    vf.add_track("Solar8000/HR", [{"dt": T0 + t, "val": 60.0 + t} for t in range(0, 60, 2)])
    vf.dtend = T0 + 60
    path = tmp_path / "1.vital"
    vf.to_vital(str(path), compresslevel=1)
    _assert_same(path, ["SNUADC/ECG_II", "SNUADC/PLETH"])
    assert VitalStream(path, []).dgmt == -540


def test_unpacked_records_gaps_overlaps_and_integer_formats(tmp_path: Path) -> None:
    """Second-long records (as Vital Recorder writes them) with a gap, an overlap that later
    records overwrite, a record before the header's start, int16 with gain and offset, values
    vitaldb turns into NaN, and unread tracks between the records."""
    rng = np.random.default_rng(2)
    vf = vitaldb.VitalFile()
    vf.dtstart = T0
    recs = [{"dt": T0 + t, "val": rng.normal(size=500).astype(np.float32)} for t in range(40)]
    del recs[10:13]  # a 3 s gap
    recs.append({"dt": T0 + 5.5, "val": np.full(500, 7.0, dtype=np.float32)})  # overlaps
    recs.append({"dt": T0 - 0.75, "val": np.full(500, 3.0, dtype=np.float32)})  # before start
    recs[3]["val"][:5] = [np.inf, -np.inf, 5e9, np.nan, 1.0]
    vf.add_track("SNUADC/ECG_II", recs, srate=500)
    art = [
        {"dt": T0 + t, "val": rng.integers(-30000, 30000, 125).astype(np.int16)} for t in range(42)
    ]
    _int16_track(vf, "SNUADC/ART", art, 125)
    vf.add_track(
        "SNUADC/CO2",
        [{"dt": T0 + t, "val": np.ones(62, np.float32)} for t in range(40)],
        srate=62.5,
    )
    vf.add_track(
        "SNUADC/ECG_V5",
        [{"dt": T0 + t, "val": np.zeros(500, np.float32)} for t in range(45)],
        srate=500,
    )
    vf.add_track("Solar8000/HR", [{"dt": T0 + t, "val": 70.0} for t in range(0, 50, 2)])
    vf.dtend = T0 + 40
    path = tmp_path / "2.vital"
    vf.to_vital(str(path), compresslevel=1, packed=False)
    _assert_same(path, ["SNUADC/ECG_II", "SNUADC/ART"])
    _assert_same(path, ["SNUADC/ART"])
    _assert_same(path, ["SNUADC/CO2", "SNUADC/ECG_II"])  # a fractional rate: read whole


def test_span_counts_only_the_tracks_asked(tmp_path: Path) -> None:
    vf = vitaldb.VitalFile()
    vf.dtstart = T0
    vf.add_track("A/X", [{"dt": T0, "val": np.ones(1000, np.float32)}], srate=100)
    vf.add_track("B/X", [{"dt": T0, "val": np.ones(3000, np.float32)}], srate=100)
    vf.dtend = T0 + 10
    path = tmp_path / "3.vital"
    vf.to_vital(str(path), compresslevel=1)
    stream = VitalStream(path, ["A/X", "B/X"])
    assert stream.span(["A/X"]) == (T0, T0 + 10)
    assert stream.span(["A/X", "B/X"]) == (T0, T0 + 30)
    assert len(stream.samples("A/X", stream.span(["A/X"]))) == 1000
    _assert_same(path, ["A/X"])


def test_a_long_track_is_not_held_in_memory(tmp_path: Path) -> None:
    vf = vitaldb.VitalFile()
    vf.dtstart = T0
    n = 4_000_000  # 16 MB of float32, one packed record
    vf.add_track("SNUADC/ECG_II", [{"dt": T0, "val": np.arange(n, dtype=np.float32)}], srate=500)
    vf.dtend = T0 + n / 500
    path = tmp_path / "long.vital"
    vf.to_vital(str(path), compresslevel=1)
    del vf
    tracemalloc.start()
    try:
        stream = VitalStream(path, ["SNUADC/ECG_II"])
        samples = stream.samples("SNUADC/ECG_II", stream.span(["SNUADC/ECG_II"]))
        part = samples[n - 10 : n]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(samples) == n
    assert part.tolist() == list(range(n - 10, n))
    assert peak < 4 * 2**20  # the read goes a MiB at a time; the track is 16 MB


def test_truncated_and_foreign_files_are_case_errors(tmp_path: Path) -> None:
    vf = vitaldb.VitalFile()
    vf.dtstart = T0
    vf.add_track("SNUADC/ECG_II", [{"dt": T0, "val": np.ones(50_000, np.float32)}], srate=500)
    vf.dtend = T0 + 100
    whole = tmp_path / "whole.vital"
    vf.to_vital(str(whole), compresslevel=1)
    cut = tmp_path / "cut.vital"
    cut.write_bytes(whole.read_bytes()[:-200])
    with pytest.raises(CaseError, match=r"cut\.vital: truncated \.vital file"):
        VitalStream(cut, ["SNUADC/ECG_II"])
    other = tmp_path / "other.vital"
    with gzip.open(other, "wb") as f:
        f.write(b"not a vital file")
    with pytest.raises(CaseError, match=r"other\.vital: not a \.vital file"):
        VitalStream(other, ["SNUADC/ECG_II"])
    plain = tmp_path / "plain.vital"
    plain.write_bytes(b"plain text")
    with pytest.raises(CaseError, match=r"plain\.vital: not a readable \.vital file"):
        VitalStream(plain, ["SNUADC/ECG_II"])


def _s(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<L", len(data)) + data


def _device(did: int, name: str) -> tuple[int, bytes]:
    return 9, struct.pack("<L", did) + _s("") + _s(name) + _s("")


def _track(
    tid: int, kind: int, fmt: int, name: str, srate: float, gain: float = 1.0
) -> tuple[int, bytes]:
    """A track header as Vital Recorder writes it: no record length, no time range."""
    return 0, (
        struct.pack("<HBB", tid, kind, fmt)
        + _s(name)
        + _s("u")
        + struct.pack("<ffL", 0, 1, 0)
        + struct.pack("<fdd", srate, gain, 0.5)
        + bytes([0])
        + struct.pack("<L", 1)
    )


def _wave(tid: int, dt: float, values: np.ndarray) -> tuple[int, bytes]:
    return 1, struct.pack("<HdHL", 10, dt, tid, len(values)) + values.tobytes()


def _number(tid: int, dt: float, value: float) -> tuple[int, bytes]:
    return 1, struct.pack("<HdHf", 10, dt, tid, value)


def _recorder_file(path: Path, packets: list[tuple[int, bytes]], cut: int = 0) -> None:
    """An unpacked file of interleaved one-second records; ``cut`` drops the last bytes of
    the body (a record cut short inside a whole gzip stream)."""
    body = b"VITA" + struct.pack("<LHh", 3, 26, -540) + bytes(8) + struct.pack("<dd", T0, T0 + 30)
    for kind, payload in packets:
        body += struct.pack("<BL", kind, len(payload)) + payload
    with gzip.open(path, "wb") as f:
        f.write(body[: len(body) - cut])


def _recorder_packets(seconds: int) -> list[tuple[int, bytes]]:
    rng = np.random.default_rng(3)
    packets = [
        _device(1, "SNUADC"),
        _track(1, 1, 1, "ECG_II", 500),
        _track(2, 1, 5, "ART", 100, 0.02),
    ]
    packets.append(_track(3, 2, 1, "HR", 0))
    for t in range(seconds):
        packets.append(_wave(1, T0 + t + 0.25, rng.normal(size=500).astype("<f4")))
        packets.append(_number(3, T0 + t, 60.0 + t))
        packets.append(_wave(2, T0 + t, rng.integers(0, 9000, 100).astype("<i2")))
    return packets


def test_interleaved_recorder_records_as_vitaldb_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "r.vital"
    _recorder_file(path, _recorder_packets(20))
    _assert_same(path, ["SNUADC/ECG_II", "SNUADC/ART"])
    _assert_same(path, ["SNUADC/ART"])


def test_odd_packets_end_or_change_a_recording_as_in_vitaldb(tmp_path: Path) -> None:
    """A zero-length packet ends vitaldb's read; a last record cut short is dropped, its time
    kept; a repeated track header drops the samples before it, not their times."""
    packets = _recorder_packets(20)
    stop = tmp_path / "stop.vital"
    _recorder_file(stop, [*packets[:30], (1, b""), *packets[30:]])
    _assert_same(stop, ["SNUADC/ECG_II", "SNUADC/ART"])
    cut = tmp_path / "cut.vital"
    _recorder_file(cut, packets, cut=150)
    _assert_same(cut, ["SNUADC/ECG_II", "SNUADC/ART"])
    again = tmp_path / "again.vital"
    _recorder_file(again, [*packets[:31], _track(2, 1, 5, "ART", 100, 0.04), *packets[31:]])
    _assert_same(again, ["SNUADC/ECG_II", "SNUADC/ART"])


def test_samples_read_right_from_forked_workers(tmp_path: Path) -> None:
    """Reads go by offset, so processes forked with one stream do not move each other's
    file position."""
    path = tmp_path / "r.vital"
    _recorder_file(path, _recorder_packets(20))
    stream = VitalStream(path, ["SNUADC/ECG_II"])
    _SHARED[:] = [stream.samples("SNUADC/ECG_II", stream.span(["SNUADC/ECG_II"]))]
    want = np.asarray(_SHARED[0]).tobytes()
    with mp.get_context("fork").Pool(2) as pool:
        got = pool.map(_read_all, range(16))
    assert all(g == want for g in got)


_SHARED: list = []


def _read_all(_: int) -> bytes:
    return b"".join(_SHARED[0][i : i + 700].tobytes() for i in range(0, len(_SHARED[0]), 700))


def test_a_full_temp_disk_stops_with_its_own_error(tmp_path: Path, monkeypatch) -> None:
    """A spill that cannot be written is no fault of the file: not a CaseError to skip."""
    path = tmp_path / "r.vital"
    _recorder_file(path, _recorder_packets(5))

    class Full(io.BytesIO):
        def write(self, data: bytes) -> int:  # type: ignore[override]
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(vital_stream.tempfile, "TemporaryFile", lambda **kw: Full())
    with pytest.raises(SpillError, match=r"No space left on device.*TMPDIR"):
        VitalStream(path, ["SNUADC/ECG_II"])


def test_the_index_reads_names_and_duration_as_vitaldb_header_only(tmp_path: Path) -> None:
    """One pass without samples gives vitaldb's header_only track names and duration."""
    files = []
    packets = _recorder_packets(12)
    for name, body in {
        "r": packets,
        "stop": [*packets[:20], (1, b""), *packets[20:]],
        "again": [*packets[:21], _track(2, 1, 5, "ART", 100, 0.04), *packets[21:]],
    }.items():
        files.append(tmp_path / f"{name}.vital")
        _recorder_file(files[-1], body)
    vf = vitaldb.VitalFile()
    vf.dtstart = T0
    # a wave running past the header's end: header_only times it by its start alone
    vf.add_track("SNUADC/ECG_II", [{"dt": T0 + 25, "val": np.ones(10_000, np.float32)}], srate=500)
    vf.add_track("Solar8000/HR", [{"dt": T0 + t, "val": 60.0} for t in range(0, 40, 2)])
    vf.dtend = T0 + 30
    files.append(tmp_path / "packed.vital")
    vf.to_vital(str(files[-1]), compresslevel=1)
    files.append(tmp_path / "empty.vital")  # a header and no track at all
    _recorder_file(files[-1], [])
    for path in files:
        header = vitaldb.VitalFile(str(path), header_only=True)
        want = (tuple(sorted(header.get_track_names())), float(header.dtend - header.dtstart))
        assert read_track_names(path) == want, path.name


def test_the_index_makes_no_temporary_file(tmp_path: Path, monkeypatch) -> None:
    """A header-only read keeps no samples, so it needs no spill: it works with none to be had."""
    path = tmp_path / "r.vital"
    _recorder_file(path, _recorder_packets(5))

    def no_temp(**kw: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(vital_stream.tempfile, "TemporaryFile", no_temp)
    names, duration = read_track_names(path)
    assert "SNUADC/ECG_II" in names and duration > 0
