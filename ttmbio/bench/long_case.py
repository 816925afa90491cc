"""Peak memory of the windows stage on one long case: a 12-hour case against a 1-hour one.

Real VitalDB cases last hours; the default synthetic ones 20-30 minutes. The bench makes long
cases by repeating a default case's waveforms (ECG, PLETH, ART at their recorded rate) to the
length asked, writes them as ``.vital`` files in a temporary folder, and windows each in a
fresh process (:func:`ttmbio.bench.windowing.peak_rss_bytes`), so the figure is the stage's
whole footprint for that case. Blocks (``windows.block_s``) keep resampling, filtering and
gating flat in the recording's length, the streaming reader
(:mod:`ttmbio.sources.vital_stream`) keeps the native samples in a temporary file rather than
in memory, and the kept windows go to the store through another
(:mod:`ttmbio.windows.kept`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import vitaldb

from ttmbio.bench.windowing import peak_rss_bytes
from ttmbio.errors import SourceError
from ttmbio.params import Params
from ttmbio.sources.base import resolve_channels
from ttmbio.sources.vital_dir import open_vital, recording_from_vital
from ttmbio.splits.schema import CaseRow


def write_long_case(
    source: Path, out: Path, hours: float, aliases: dict[str, list[str]], channels: list[str]
) -> None:
    """``source``'s waves of ``channels`` repeated to ``hours``, as a ``.vital`` file at ``out``."""
    if not source.is_file():
        raise SourceError(
            f"{source}: the long-case figure repeats a local .vital file; run the bench on a "
            "vital_dir source (data.vitaldb.source)"
        )
    stream = open_vital(source, [t for c in channels for t in aliases.get(c, [])])
    found, missing = resolve_channels(stream.track_names(), aliases, channels)
    if missing:
        raise SourceError(f"{source}: no track for {missing}; check data.vitaldb.tracks")
    long = vitaldb.VitalFile()
    long.dtstart, _ = stream.span(list(found.values()))
    long.dgmt = stream.dgmt
    rec = recording_from_vital(stream, source, "source", "source", found)
    for channel, name in found.items():
        sig = rec.signals[channel]
        size = round(hours * 3600 * sig.fs)
        waves = np.resize(np.asarray(sig.data), size)
        long.add_track(name, [{"dt": long.dtstart, "val": waves}], srate=sig.fs)
    long.dtend = long.dtstart + hours * 3600
    long.to_vital(str(out), compresslevel=1)


def long_case_memory(
    params: Params, source: CaseRow, hours: tuple[float, float], repeats: int
) -> dict[str, Any]:
    """Peak RSS (MB, median of ``repeats`` fresh processes) windowing a case of each length."""
    aliases, channels = params.data.vitaldb.tracks, params.windows.vitaldb.channels
    out: dict[str, Any] = {"hours": list(hours), "block_s": params.windows.block_s}
    with tempfile.TemporaryDirectory(prefix="ttmbio-long-") as tmp:
        for h in hours:
            path = Path(tmp) / f"{h:g}h.vital"
            write_long_case(Path(source.file), path, h, aliases, channels)
            row = source.model_copy(update={"case_id": f"{h:g}h", "file": str(path)})
            peaks = sorted(peak_rss_bytes(params, [row]) for _ in range(repeats))
            out[f"peak_rss_{h:g}h_mb"] = peaks[len(peaks) // 2] / 2**20
            path.unlink()
    short, long = hours
    out["ratio"] = out[f"peak_rss_{long:g}h_mb"] / out[f"peak_rss_{short:g}h_mb"]
    return out
