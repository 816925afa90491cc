"""Data sources: each indexes its cases cheaply and loads one recording on demand.

The synthetic default, a user's folder of ``.vital`` files and the VitalDB API all end up as
``.vital`` files read by :mod:`ttmbio.sources.vital_dir`; BUT-PPG folders by
:mod:`ttmbio.sources.butppg`.
"""

from __future__ import annotations

from collections import defaultdict

from ttmbio.params import ButPPGData, VitalDBData
from ttmbio.sources.base import SourceIndex
from ttmbio.sources.butppg import scan_butppg_dir
from ttmbio.sources.vital_dir import index_entries, scan_vital_dir


def index_vitaldb(cfg: VitalDBData) -> SourceIndex:
    """Index VitalDB-format cases from the configured source."""
    if cfg.source == "vital_dir":
        return scan_vital_dir(cfg.path, cfg.tracks, cfg.required_channels, cfg.clinical_csv)
    from ttmbio.sources.vitaldb_api import VitalDBApi

    api = VitalDBApi(api_url=cfg.api_url, cache_dir=cfg.cache_dir)
    clinical = api.clinical_table().copy()
    clinical["caseid"] = clinical["caseid"].astype(str)
    clinical = clinical.set_index("caseid", drop=False)
    tracks: dict[str, list[str]] = defaultdict(list)
    for caseid, tname in api.track_index()[["caseid", "tname"]].itertuples(index=False):
        tracks[str(caseid)].append(str(tname))
    rows = [
        (case_id, api.case_url(int(case_id)), tuple(sorted(names)))
        for case_id, names in sorted(tracks.items(), key=lambda kv: int(kv[0]))
    ]
    return index_entries(rows, cfg.tracks, cfg.required_channels, clinical)


def index_butppg(cfg: ButPPGData) -> SourceIndex:
    """Index BUT-PPG records from the configured folder."""
    return scan_butppg_dir(cfg.path)
