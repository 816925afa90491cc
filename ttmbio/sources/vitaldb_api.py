"""Client for the VitalDB open dataset API that downloads into a local cache.

Every file is downloaded once into ``cache_dir`` and read from there afterwards, so the
rest of the pipeline reads cached ``.vital`` files with the same code as a local folder
of ``.vital`` files, and a re-run of a stage makes no network requests.

Layout of the API (as used by the ``vitaldb`` package itself):

- ``{api_url}/cases``: clinical table (CSV, possibly gzip-encoded)
- ``{api_url}/trks``: track index (CSV with ``caseid,tname,tid``)
- ``{api_url}/{dataset_version}/{caseid}.vital``: the case's packed ``.vital`` file

Cache layout: ``cache_dir/cases.csv``, ``cache_dir/trks.csv``, ``cache_dir/vital/{id}.vital``.
Downloads go to a hidden temp sibling (:func:`ttmbio.atomic.atomic_file`) that replaces the
final name only once complete and verified, so a file with the final name is always whole.

Errors: a case-specific failure (HTTP 404, a corrupt download, a server error on that
one file) raises ``CaseError`` so the stage can skip the case; failing to reach the API
at all raises ``SourceError`` even while downloading a case, because every other case
would fail the same way and skipping them one by one would only hide the outage.
"""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import requests
import urllib3
import vitaldb.dataset
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from ttmbio import __version__
from ttmbio.atomic import atomic_file
from ttmbio.errors import CaseError, ConfigError, SourceError
from ttmbio.sources.vital_dir import check_vital_file

DEFAULT_API_URL = "https://api.vitaldb.net"
CASES_COLUMNS: tuple[str, ...] = ("caseid",)
TRKS_COLUMNS: tuple[str, ...] = ("caseid", "tname", "tid")

_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_USER_AGENT = f"ttmbio/{__version__} (VitalDB cache)"
# server-side and rate-limit statuses may succeed on a later try; 404 never will
_TRANSIENT = frozenset({408, 429, *range(500, 600)})
_OFFLINE_FIX = "check the network, or set data.vitaldb.source=vital_dir with a local folder"


def _one_line(text: object) -> str:
    """Collapse whitespace so an error message never spans several lines."""
    return " ".join(str(text).split())


def _network_reason(err: Exception) -> str:
    """Short ``Type: reason`` text for a network failure: the innermost cause urllib3 kept
    (``ConnectionRefusedError: ...``), not the wrapping of requests and its retries."""
    reason: BaseException = err
    while True:
        inner = getattr(reason, "reason", None) or reason.__context__ or reason.__cause__
        if not isinstance(inner, BaseException) or inner is reason:
            break
        reason = inner
    return _one_line(f"{type(reason).__name__}: {reason}")


def _tries(count: int) -> str:
    """Say "1 try" or "3 tries", so the user sees whether retries happened at all."""
    return f"{count} try" if count == 1 else f"{count} tries"


def _write_chunk(out: BinaryIO, chunk: bytes, dest: Path) -> None:
    """Write to the temp file, reporting a local disk problem as such (not as a network one)."""
    try:
        out.write(chunk)
    except OSError as err:
        raise SourceError(
            f"cannot write the VitalDB cache file {dest} ({_one_line(err)}): "
            "free disk space or set cache_dir to a writable folder"
        ) from None


def _gunzip_in_place(path: Path) -> None:
    """Replace a gzip file by its content (for a CSV served gzip'd without Content-Encoding)."""
    with atomic_file(path) as plain, gzip.open(path, "rb") as src, plain.open("wb") as dst:
        while chunk := src.read(_CHUNK):
            dst.write(chunk)


def _starts_with(path: Path, magic: bytes) -> bool:
    """Sniff a file's first bytes; the API may or may not gzip the CSVs."""
    with path.open("rb") as f:
        return f.read(len(magic)) == magic


def _read_csv(path: Path, required: Sequence[str], source: str, fix: str) -> pd.DataFrame:
    """Read a CSV and check its columns, so a wrong file fails here and not deep in a stage."""
    try:
        table = pd.read_csv(path, low_memory=False)
    except (ValueError, OSError, UnicodeDecodeError) as err:
        raise SourceError(f"{source} is not a readable CSV ({_one_line(err)}): {fix}") from None
    missing = [col for col in required if col not in table.columns]
    if missing:
        raise SourceError(f"{source} lacks the column(s) {', '.join(missing)}: {fix}")
    return table


@dataclass(frozen=True)
class VitalDBApi:
    """VitalDB open dataset API with a download-once local cache.

    ``retries`` is the number of extra tries after the first one for transient failures
    (network errors, timeouts, HTTP 5xx/408/429), made by urllib3's ``Retry`` with
    ``backoff_factor=backoff_s`` (waits of 0, 2 x, 4 x ``backoff_s``...); a body cut off on
    the way is downloaded again, waiting ``backoff_s * 2**n``.
    """

    api_url: str = DEFAULT_API_URL
    cache_dir: Path = Path("data/cache/vitaldb")
    dataset_version: str = vitaldb.dataset.DATASET_VERSION
    timeout_s: float = 60.0
    retries: int = 3
    backoff_s: float = 0.5

    def __post_init__(self) -> None:
        """Normalise values coming from YAML params and reject ones that cannot work."""
        object.__setattr__(self, "api_url", str(self.api_url).rstrip("/"))
        object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        if not self.api_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"VitalDB api_url {self.api_url!r} is not an http(s) URL: "
                f"set it to {DEFAULT_API_URL}"
            )
        if self.timeout_s <= 0 or self.retries < 0 or self.backoff_s < 0:
            raise ConfigError(
                f"VitalDB timeout_s={self.timeout_s}, retries={self.retries}, "
                f"backoff_s={self.backoff_s}: use timeout_s > 0, retries >= 0, backoff_s >= 0"
            )

    # ----------------------------------------------------------------- public API

    def clinical_table(self) -> pd.DataFrame:
        """Clinical table (one row per case); downloaded once to ``cache_dir/cases.csv``."""
        return self._cached_csv("cases", CASES_COLUMNS)

    def track_index(self) -> pd.DataFrame:
        """Track index (``caseid,tname,tid``); downloaded once to ``cache_dir/trks.csv``."""
        return self._cached_csv("trks", TRKS_COLUMNS)

    def find_cases(self, track_names: Sequence[str]) -> list[int]:
        """Sorted caseids that have ALL of ``track_names`` (exact match, e.g. "SNUADC/PLETH")."""
        if isinstance(track_names, str):
            track_names = [track_names]
        wanted = set(track_names)
        if not wanted:
            raise ConfigError(
                "find_cases got no track names: list the required tracks, e.g. ['SNUADC/PLETH']"
            )
        index = self.track_index()
        hits = index.loc[index["tname"].isin(wanted), ["caseid", "tname"]]
        counts = hits.drop_duplicates().groupby("caseid")["tname"].nunique()
        return sorted(int(caseid) for caseid in counts.index[counts == len(wanted)])

    def case_path(self, caseid: int) -> Path:
        """Local path of the case's ``.vital`` file, downloading it first if not cached."""
        caseid = self._check_caseid(caseid)
        dest = self.cache_dir / "vital" / f"{caseid}.vital"
        if dest.exists():
            return dest
        url = self.case_url(caseid)
        self._download(url, dest, caseid, lambda tmp: self._verify_vital(tmp, url, caseid))
        return dest

    def case_url(self, caseid: int) -> str:
        """URL of one case's packed ``.vital`` file for this dataset version."""
        return f"{self.api_url}/{self.dataset_version}/{caseid}.vital"

    # ----------------------------------------------------------------- helpers

    @staticmethod
    def _check_caseid(caseid: object) -> int:
        """Caseids are positive ints; anything else would build a nonsense URL."""
        try:
            value = int(caseid)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            value = 0
        if isinstance(caseid, bool) or value < 1 or value != caseid:
            raise CaseError(
                f"VitalDB caseid {caseid!r} is not a positive integer: fix the case list"
            )
        return value

    def _cached_csv(self, name: str, required: Sequence[str]) -> pd.DataFrame:
        """Read ``cache_dir/{name}.csv``, downloading and checking it first if missing."""
        dest = self.cache_dir / f"{name}.csv"
        url = f"{self.api_url}/{name}"
        if not dest.exists():
            self._download(url, dest, None, lambda tmp: self._verify_csv(tmp, url, required))
        return _read_csv(dest, required, f"cached file {dest}", f"delete {dest} to download again")

    @staticmethod
    def _verify_csv(tmp: Path, url: str, required: Sequence[str]) -> None:
        """Un-gzip if needed and check the columns before the file may enter the cache."""
        try:
            if _starts_with(tmp, _GZIP_MAGIC):
                _gunzip_in_place(tmp)
        except (OSError, EOFError, zlib.error) as err:
            raise SourceError(
                f"the VitalDB API at {url} sent a corrupt gzip body ({_one_line(err)}): "
                "try again later"
            ) from None
        fix = "check api_url points at the VitalDB API, or try again later"
        _read_csv(tmp, required, f"the download from {url}", fix)

    @staticmethod
    def _verify_vital(tmp: Path, url: str, caseid: int) -> None:
        """Reject anything that is not a whole gzip'd ``.vital`` file (HTML error pages...)."""
        try:
            check_vital_file(tmp)
        except CaseError as err:
            problem = str(err).removeprefix(f"{tmp}: ").split(";")[0]
            raise CaseError(
                f"VitalDB case {caseid} downloaded from {url} is not a valid .vital file "
                f"({problem}): nothing was cached; try again later or drop the case"
            ) from None

    def _download(
        self, url: str, dest: Path, caseid: int | None, verify: Callable[[Path], None]
    ) -> None:
        """Download ``url`` to ``dest`` via a temp file that only replaces ``dest`` when valid."""

        def unwritable(err: OSError) -> SourceError:
            return SourceError(
                f"cannot write the VitalDB cache folder {dest.parent} ({_one_line(err)}): "
                "set cache_dir to a writable folder"
            )

        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise unwritable(err) from None
        with atomic_file(dest) as tmp:
            try:
                out = tmp.open("wb")
            except OSError as err:
                raise unwritable(err) from None
            with out:
                self._fetch(url, out, dest, caseid)
            verify(tmp)

    def _session(self) -> requests.Session:
        """A session whose adapter retries transient failures (connection errors, timeouts,
        HTTP 5xx/408/429) ``retries`` times with urllib3's exponential backoff."""
        retry = Retry(
            total=self.retries,
            backoff_factor=self.backoff_s,
            status_forcelist=_TRANSIENT,
            allowed_methods=frozenset({"GET"}),
            raise_on_status=False,  # the last answer comes back, to be reported below
            respect_retry_after_header=False,  # as before: a Retry-After of hours would hang
        )
        session = requests.Session()
        session.headers["User-Agent"] = _USER_AGENT
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        return session

    def _fetch(self, url: str, out: BinaryIO, dest: Path, caseid: int | None) -> None:
        """GET ``url`` into ``out``. The session's adapter retries failures before the answer
        arrives; urllib3 does not retry a body cut off or stalled on the way, so that is
        retried here, from the start, within the same ``retries`` budget."""
        for attempt in range(self.retries + 1):
            out.seek(0)
            out.truncate()
            try:
                with (
                    self._session() as session,
                    session.get(url, timeout=self.timeout_s, stream=True) as response,
                ):
                    if response.status_code >= 400:
                        history = response.raw.retries.history if response.raw.retries else ()
                        raise self._http_error(url, response, caseid, len(history) + 1)
                    # the bytes as sent: a .vital is gzip itself, a gzip'd CSV is un-gzipped
                    # later
                    while chunk := response.raw.read(_CHUNK, decode_content=False):
                        _write_chunk(out, chunk, dest)
                return
            except (requests.ConnectionError, requests.Timeout) as err:  # even after retries
                raise SourceError(
                    f"cannot reach the VitalDB API at {url} ({_network_reason(err)}) "
                    f"after {_tries(self.retries + 1)}: {_OFFLINE_FIX}"
                ) from None
            except requests.RequestException as err:  # not a network failure: not retried
                raise SourceError(
                    f"the VitalDB API at {url} gave no usable answer ({_network_reason(err)}): "
                    "check api_url"
                ) from None
            except urllib3.exceptions.HTTPError as err:  # the body cut off or stalled
                if attempt == self.retries:
                    raise SourceError(
                        f"lost the connection to the VitalDB API while downloading {url} "
                        f"({_network_reason(err)}, {_tries(attempt + 1)}): nothing was cached; "
                        f"{_OFFLINE_FIX}"
                    ) from None
                time.sleep(self.backoff_s * 2**attempt)

    def _http_error(
        self, url: str, response: requests.Response, caseid: int | None, tries: int
    ) -> SourceError:
        """One-line error for an HTTP error status, naming the URL and what to do."""
        code = response.status_code
        status = _one_line(f"HTTP {code} {response.reason}")
        if caseid is None:
            first = "try again later" if code in _TRANSIENT else "check api_url"
            fix = f"{first}, or set data.vitaldb.source=vital_dir with a local folder"
            return SourceError(f"the VitalDB API at {url} answered {status}: {fix}")
        if code == 404:
            return CaseError(
                f"VitalDB case {caseid} is not at {url} ({status}): drop the case, or check "
                f"dataset_version={self.dataset_version!r} and api_url"
            )
        return CaseError(
            f"VitalDB case {caseid} could not be downloaded from {url} ({status}, "
            f"{_tries(tries)}): try again later or drop the case"
        )
