"""VitalDB: ``.vital`` files from a folder (the synthetic default lives in one) or from the
open dataset's API, cached as files; read by :mod:`ttmbio.sources.vital_dir`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from ttmbio.errors import CaseError
from ttmbio.params import Params, VitalDBData
from ttmbio.sources.base import (
    CaseEntry,
    PredictInput,
    Recording,
    SourceIndex,
    resolve_channels,
)
from ttmbio.sources.registry import DatasetSource, TrackMaps
from ttmbio.sources.vital_dir import (
    index_entries,
    open_vital,
    recording_from_vital,
    scan_vital_dir,
)
from ttmbio.splits.schema import CaseRow


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


class VitalDBSource(DatasetSource):
    name = "vitaldb"
    accepts = "a .vital file"
    fasttrack = True

    def index(self, params: Params) -> SourceIndex:
        return index_vitaldb(params.data.vitaldb)

    def select(self, index: SourceIndex, params: Params) -> tuple[list[CaseEntry], int]:
        """The cases of the chosen case set (those with its extra tracks), up to max_cases."""
        cfg = params.data.vitaldb
        required = set(cfg.case_sets[params.splits.vitaldb.case_set])
        keep = [c for c in index.cases if required <= set(c.tracks)]
        excluded = len(index.cases) - len(keep)
        return (keep if cfg.max_cases is None else keep[: cfg.max_cases]), excluded

    def load(self, row: CaseRow, channels: Sequence[str], params: Params) -> Recording:
        cfg = params.data.vitaldb
        if cfg.source == "vitaldb_api":
            from ttmbio.sources.vitaldb_api import VitalDBApi

            api = VitalDBApi(api_url=cfg.api_url, cache_dir=cfg.cache_dir)
            path = api.case_path(int(row.case_id))
        else:
            path = Path(row.file)
        stream = open_vital(path, [t for c in channels for t in cfg.tracks.get(c, ())])
        found, missing = resolve_channels(stream.track_names(), cfg.tracks, channels)
        if missing:
            raise CaseError(f"{path}: missing track(s) for {missing}; check data.vitaldb.tracks")
        return recording_from_vital(stream, path, row.case_id, row.subject_id, found)

    def claims(self, path: Path, tracks: TrackMaps | None = None) -> PredictInput | None:
        if path.is_file() and path.suffix == ".vital":
            return PredictInput(self.name, path, path.stem)
        return None

    def find_under(self, folder: Path, tracks: TrackMaps | None = None) -> list[PredictInput]:
        return [PredictInput(self.name, p, p.stem) for p in sorted(folder.rglob("*.vital"))]

    def load_input(
        self,
        item: PredictInput,
        needed: Sequence[str],
        optional: Sequence[str],
        tracks: TrackMaps | None = None,
    ) -> Recording:
        names = self.track_map(tracks)
        aliases = {c: names.get(c, []) for c in [*needed, *optional]}
        stream = open_vital(item.path, [t for ts in aliases.values() for t in ts])
        present = stream.track_names()
        found, missing = resolve_channels(present, aliases, needed)
        if missing:
            tried = {c: aliases[c] for c in missing if aliases[c]}
            raise CaseError(
                f"{item.path}: missing channel(s) {missing} the model needs "
                + (f"(tracks tried: {tried})" if tried else "(no .vital track carries them)")
                + "; use a model trained on this file's channels"
            )
        extra, _ = resolve_channels(present, aliases, [c for c in optional if c not in needed])
        return recording_from_vital(
            stream, item.path, item.recording, item.recording, {**found, **extra}
        )


SOURCE = VitalDBSource()
