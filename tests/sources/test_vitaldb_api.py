"""Tests for the VitalDB API client against a local HTTP server (no internet needed)."""

from __future__ import annotations

import gzip
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import vitaldb

from ttmbio.errors import CaseError, SourceError
from ttmbio.sources.vitaldb_api import VitalDBApi

VERSION = "1.0.1"
SRATE = 500
N_SAMPLES = 2_000
CASES_CSV = (
    "caseid,subjectid,age,sex,bmi,asa,optype,department\n"
    "1,5955,77,M,26.3,2,Colorectal,General surgery\n"
    "2,2487,54,M,19.6,2,Stomach,General surgery\n"
    "3,2861,62,F,20.5,1,Biliary/Pancreas,General surgery\n"
)
TRKS_CSV = (
    "caseid,tname,tid\n"
    "1,SNUADC/ECG_II,aa01\n"
    "1,Solar8000/HR,aa02\n"
    "1,SNUADC/PLETH,aa03\n"
    "2,SNUADC/ECG_II,bb01\n"
    "3,SNUADC/ECG_II,cc01\n"
    "3,Solar8000/HR,cc02\n"
    "4,Solar8000/HR,dd01\n"
)


def ecg_signal(caseid: int) -> np.ndarray:
    """Deterministic per-case waveform so a mixed-up download would be noticed."""
    t = np.arange(N_SAMPLES) / SRATE
    return (np.sin(2 * np.pi * 1.2 * t) + 0.1 * caseid).astype(np.float32)


def write_vital(path: Path, caseid: int) -> None:
    """Build a small real .vital file offline with the vitaldb package."""
    vf = vitaldb.VitalFile()
    vf.dtstart = 1_700_000_000.0
    ecg = ecg_signal(caseid)
    vf.add_track("SNUADC/ECG_II", [{"dt": vf.dtstart, "val": ecg}], srate=SRATE, unit="mV")
    hr = [{"dt": vf.dtstart + i * 2, "val": 70.0} for i in range(N_SAMPLES // SRATE // 2)]
    vf.add_track("Solar8000/HR", hr, unit="/min")
    vf.dtend = vf.dtstart + len(ecg) / SRATE
    vf.to_vital(str(path))


@dataclass
class FakeApi:
    """What the fake server serves, plus a log of the paths it was asked for."""

    root: Path
    url: str = ""
    requests: list[str] = field(default_factory=list)
    failures: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses to send first
    gzip_encoded: set[str] = field(default_factory=set)  # paths sent with Content-Encoding: gzip
    cut_short: dict[str, int] = field(default_factory=dict)  # path -> times to drop mid-body


def make_handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    """Handler bound to ``api``: serves files under ``api.root`` by URL path."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            api.requests.append(self.path)
            planned = api.failures.get(self.path)
            if planned:
                self._send(planned.pop(0), b"server error")
                return
            path = api.root / self.path.lstrip("/")
            if not path.is_file():
                self._send(404, b"not found")
                return
            body = path.read_bytes()
            gz = self.path in api.gzip_encoded
            cut = api.cut_short.get(self.path, 0) > 0
            if cut:
                api.cut_short[self.path] -= 1
            self._send(200, gzip.compress(body) if gz else body, gz, cut)

        def _send(self, status: int, body: bytes, gz: bool = False, cut: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            if gz:
                self.send_header("Content-Encoding", "gzip")
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if cut else body)
            if cut:
                self.close_connection = True

        def log_message(self, *args: object) -> None:
            """Keep pytest output clean."""

    return Handler


@pytest.fixture
def fake_api(tmp_path: Path) -> Iterator[FakeApi]:
    """A ThreadingHTTPServer on 127.0.0.1 serving cases, trks and 1.0.1/<id>.vital."""
    root = tmp_path / "served"
    (root / VERSION).mkdir(parents=True)
    (root / "cases").write_text(CASES_CSV)
    (root / "trks").write_text(TRKS_CSV)
    for caseid in (1, 3):
        write_vital(root / VERSION / f"{caseid}.vital", caseid)
    api = FakeApi(root=root, gzip_encoded={"/cases"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(api))
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def client(api_url: str, tmp_path: Path, **kwargs: object) -> VitalDBApi:
    """Fast-failing client with its cache under tmp_path."""
    params: dict[str, object] = {"timeout_s": 2.0, "retries": 2, "backoff_s": 0.01}
    params.update(kwargs)
    return VitalDBApi(api_url=api_url, cache_dir=tmp_path / "cache", **params)  # type: ignore[arg-type]


def closed_port_url() -> str:
    """URL of a port nothing listens on, so connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def cache_files(tmp_path: Path) -> list[str]:
    """Every file in the cache, temp files included."""
    root = tmp_path / "cache"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_clinical_table_parses_gzip_encoded_csv(fake_api: FakeApi, tmp_path: Path) -> None:
    table = client(fake_api.url, tmp_path).clinical_table()
    assert list(table["caseid"]) == [1, 2, 3]
    assert list(table["sex"]) == ["M", "M", "F"]
    assert table.loc[table["caseid"] == 3, "optype"].item() == "Biliary/Pancreas"
    assert (tmp_path / "cache" / "cases.csv").read_text() == CASES_CSV


def test_track_index_parses_plain_csv(fake_api: FakeApi, tmp_path: Path) -> None:
    index = client(fake_api.url, tmp_path).track_index()
    assert list(index.columns) == ["caseid", "tname", "tid"]
    assert len(index) == 7
    assert set(index.loc[index["caseid"] == 1, "tname"]) == {
        "SNUADC/ECG_II",
        "Solar8000/HR",
        "SNUADC/PLETH",
    }


def test_find_cases_requires_all_tracks(fake_api: FakeApi, tmp_path: Path) -> None:
    api = client(fake_api.url, tmp_path)
    assert api.find_cases(["Solar8000/HR", "SNUADC/ECG_II"]) == [1, 3]
    assert api.find_cases(["SNUADC/ECG_II"]) == [1, 2, 3]
    assert api.find_cases(["SNUADC/PLETH", "SNUADC/ECG_II"]) == [1]
    assert api.find_cases(["ECG_II"]) == []  # exact dtname match only
    assert all(type(caseid) is int for caseid in api.find_cases(["SNUADC/ECG_II"]))


def test_case_download_opens_with_vitaldb(fake_api: FakeApi, tmp_path: Path) -> None:
    path = client(fake_api.url, tmp_path).case_path(3)
    assert path == tmp_path / "cache" / "vital" / "3.vital"
    vals = vitaldb.VitalFile(str(path)).to_numpy(["SNUADC/ECG_II"], 1 / SRATE)
    np.testing.assert_allclose(vals[:N_SAMPLES, 0], ecg_signal(3), atol=1e-6)
    assert cache_files(tmp_path) == ["vital/3.vital"]


def test_cache_hits_make_no_request(fake_api: FakeApi, tmp_path: Path) -> None:
    api = client(fake_api.url, tmp_path)
    first = (api.clinical_table(), api.track_index(), api.case_path(1))
    assert sorted(fake_api.requests) == ["/1.0.1/1.vital", "/cases", "/trks"]
    fake_api.requests.clear()
    offline = client(closed_port_url(), tmp_path, retries=0)
    again = (offline.clinical_table(), offline.track_index(), offline.case_path(1))
    again_online = (api.clinical_table(), api.find_cases(["Solar8000/HR"]), api.case_path(1))
    assert fake_api.requests == []
    assert again[0].equals(first[0]) and again[1].equals(first[1])
    assert again[2] == first[2] == again_online[2]


def test_missing_case_is_case_error_naming_url(fake_api: FakeApi, tmp_path: Path) -> None:
    api = client(fake_api.url, tmp_path)
    with pytest.raises(CaseError) as info:
        api.case_path(2)
    message = str(info.value)
    assert f"{fake_api.url}/1.0.1/2.vital" in message
    assert "404" in message and "\n" not in message
    assert fake_api.requests == ["/1.0.1/2.vital"]  # a 404 is not retried
    assert cache_files(tmp_path) == []


@pytest.mark.parametrize(
    "body",
    [
        b"<html>Service unavailable</html>",  # not gzip at all
        gzip.compress(b"<html>oops</html>"),  # gzip, but not a .vital inside
        "truncated",  # the first half of a real .vital file
    ],
    ids=["not-gzip", "gzip-not-vital", "truncated"],
)
def test_corrupt_vital_is_case_error_and_not_cached(
    fake_api: FakeApi, tmp_path: Path, body: bytes | str
) -> None:
    target = fake_api.root / VERSION / "1.vital"
    good = target.read_bytes()
    target.write_bytes(good[: len(good) // 2] if body == "truncated" else body)
    with pytest.raises(CaseError) as info:
        client(fake_api.url, tmp_path).case_path(1)
    message = str(info.value)
    assert f"{fake_api.url}/1.0.1/1.vital" in message and "\n" not in message
    assert cache_files(tmp_path) == []


def test_unreachable_server_is_one_line_source_error(tmp_path: Path) -> None:
    url = closed_port_url()
    api = client(url, tmp_path, retries=1, timeout_s=0.5)
    with pytest.raises(SourceError) as info:
        api.clinical_table()
    message = str(info.value)
    assert type(info.value) is SourceError
    assert message.startswith(f"cannot reach the VitalDB API at {url}/cases (")
    assert ") after 2 tries: " in message
    assert "data.vitaldb.source=vital_dir" in message
    assert "\n" not in message and "Traceback" not in message
    assert info.value.__suppress_context__
    assert cache_files(tmp_path) == []


def test_unreachable_server_during_case_is_not_skippable(tmp_path: Path) -> None:
    """An outage must stop the stage, not be skipped case by case as a CaseError."""
    api = client(closed_port_url(), tmp_path, retries=0, timeout_s=0.5)
    with pytest.raises(SourceError) as info:
        api.case_path(1)
    assert type(info.value) is SourceError
    assert "/1.0.1/1.vital" in str(info.value)


def test_a_body_cut_off_is_downloaded_again(fake_api: FakeApi, tmp_path: Path) -> None:
    """urllib3 retries nothing once the answer has begun: the client does, from the start."""
    fake_api.cut_short = {"/1.0.1/1.vital": 1}
    path = client(fake_api.url, tmp_path, retries=2).case_path(1)
    assert vitaldb.VitalFile(str(path)).to_numpy(["SNUADC/ECG_II"], 1 / SRATE).shape[0] > 0
    assert fake_api.requests == ["/1.0.1/1.vital"] * 2


def test_a_body_cut_off_every_time_is_one_line_and_caches_nothing(
    fake_api: FakeApi, tmp_path: Path
) -> None:
    fake_api.cut_short = {"/1.0.1/1.vital": 5}
    with pytest.raises(SourceError) as info:
        client(fake_api.url, tmp_path, retries=1).case_path(1)
    message = str(info.value)
    assert type(info.value) is SourceError and "\n" not in message
    assert message.startswith(
        f"lost the connection to the VitalDB API while downloading {fake_api.url}/1.0.1/1.vital ("
    )
    assert "IncompleteRead" in message and ", 2 tries): nothing was cached" in message
    assert fake_api.requests == ["/1.0.1/1.vital"] * 2 and cache_files(tmp_path) == []


def test_server_errors_are_retried(fake_api: FakeApi, tmp_path: Path) -> None:
    fake_api.failures = {"/trks": [500, 503], "/1.0.1/1.vital": [500, 502]}
    api = client(fake_api.url, tmp_path, retries=2)
    assert len(api.track_index()) == 7
    path = api.case_path(1)
    assert vitaldb.VitalFile(str(path)).to_numpy(["SNUADC/ECG_II"], 1 / SRATE).shape[0] > 0
    assert fake_api.requests == ["/trks"] * 3 + ["/1.0.1/1.vital"] * 3


def test_server_errors_beyond_retries_fail(fake_api: FakeApi, tmp_path: Path) -> None:
    fake_api.failures = {"/cases": [500, 500], "/1.0.1/1.vital": [503, 503]}
    api = client(fake_api.url, tmp_path, retries=1)
    with pytest.raises(SourceError) as info:
        api.clinical_table()
    assert type(info.value) is SourceError and "HTTP 500" in str(info.value)
    with pytest.raises(CaseError, match=r"HTTP 503 Service Unavailable, 2 tries\)"):
        api.case_path(1)
    assert cache_files(tmp_path) == []


def test_html_instead_of_csv_is_not_cached(fake_api: FakeApi, tmp_path: Path) -> None:
    (fake_api.root / "trks").write_text("<html><body>captive portal</body></html>\n")
    with pytest.raises(SourceError, match="lacks the column"):
        client(fake_api.url, tmp_path).track_index()
    assert cache_files(tmp_path) == []


def test_dataset_version_override(fake_api: FakeApi, tmp_path: Path) -> None:
    (fake_api.root / "9.9").mkdir()
    write_vital(fake_api.root / "9.9" / "3.vital", 3)
    path = client(fake_api.url, tmp_path, dataset_version="9.9").case_path(3)
    assert fake_api.requests == ["/9.9/3.vital"]
    assert path.is_file()
