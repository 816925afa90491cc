"""The embedded default dataset: synthetic VitalDB cases and BUT-PPG records, real formats.

Every case and record draws from its own child of one ``SeedSequence``, so the output is the
same whatever the number of worker processes, and the same seed gives byte-identical files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ttmbio.atomic import atomic_dir
from ttmbio.parallel import ordered_map
from ttmbio.params import SynthParams
from ttmbio.sources.butppg import ANNOTATIONS, SUBJECT_INFO
from ttmbio.synth.formats import write_butppg_record, write_vital_case
from ttmbio.synth.physiology import (
    random_case_profile,
    simulate_butppg_record,
    simulate_vital_case,
)

VITAL_DIR, BUTPPG_DIR = "vitaldb", "butppg"
_DTSTART = 1_577_836_800.0  # 2020-01-01 UTC: a fixed clock keeps files reproducible
_DEPARTMENTS = {
    "General surgery": [
        "Colorectal",
        "Stomach",
        "Biliary/Pancreas",
        "Hepatic",
        "Breast",
        "Major resection",
    ],
    "Thoracic surgery": ["Lung", "Vascular"],
    "Gynecology": ["Others"],
    "Urology": ["Transplantation", "Others"],
}
_MOTIONS = ["sitting", "standing", "walking", "hand movement", "coughing", "talking"]


@dataclass(frozen=True)
class VitalJob:
    caseid: int
    subjectid: int
    duration_s: float
    seed: np.random.SeedSequence
    path: Path


@dataclass(frozen=True)
class ButPPGJob:
    record_id: str
    good: bool
    base_hr_bpm: float
    seed: np.random.SeedSequence
    folder: Path


def _vital_job(job: VitalJob) -> dict[str, Any]:
    rng = np.random.default_rng(job.seed)
    profile = random_case_profile(rng, job.duration_s)
    signals = simulate_vital_case(profile, rng)
    write_vital_case(job.path, signals, _DTSTART + 86_400.0 * job.caseid)
    hypo_s = sum(e.end_s - e.start_s for e in signals.events if e.kind == "hypotension")
    return {
        "caseid": job.caseid,
        "duration_s": job.duration_s,
        "hypotension_s": hypo_s,
        "base_hr_bpm": profile.base_hr_bpm,
        "base_map_mmhg": profile.base_map_mmhg,
        "has_bis": profile.has_bis,
        "events": Counter(e.kind for e in signals.events),
    }


def _butppg_job(job: ButPPGJob) -> dict[str, Any]:
    rng = np.random.default_rng(job.seed)
    sig = simulate_butppg_record(rng, good=job.good, base_hr_bpm=job.base_hr_bpm)
    write_butppg_record(job.folder, job.record_id, sig)
    return {"ID": job.record_id, "Quality": sig.quality, "HR": round(float(sig.hr_bpm), 1)}


def _run(
    fn: Callable[[Any], dict[str, Any]],
    jobs: list[Any],
    workers: int,
    progress: Callable[[Iterable[Any], int, str], Iterator[Any]],
    label: str,
) -> list[dict[str, Any]]:
    return list(progress(ordered_map(fn, jobs, workers), len(jobs), label))


def _no_progress(items: Iterable[Any], total: int, label: str) -> Iterator[Any]:
    return iter(items)


def _case_subjects(rng: np.random.Generator, n_cases: int, n_subjects: int) -> np.ndarray:
    """Every subject gets one case; the rest go to random subjects (re-operations)."""
    extra = rng.integers(0, n_subjects, size=n_cases - n_subjects)
    subjects = np.concatenate([np.arange(n_subjects), extra])
    rng.shuffle(subjects)
    return subjects


def clinical_table(rng: np.random.Generator, cases: pd.DataFrame) -> pd.DataFrame:
    """A table in the columns of VitalDB's ``cases`` API, plausible per subject and case."""
    rows = []
    person: dict[int, dict[str, Any]] = {}
    for case in cases.itertuples():
        if case.subjectid not in person:
            sex = str(rng.choice(["M", "F"]))
            height = float(rng.normal(172 if sex == "M" else 159, 7))
            bmi = float(np.clip(rng.normal(23.5, 3.5), 17.0, 40.0))
            weight = bmi * (height / 100) ** 2
            person[case.subjectid] = {
                "age": int(rng.integers(19, 86)),
                "sex": sex,
                "height": round(height, 1),
                "weight": round(weight, 1),
                "bmi": round(weight / (height / 100) ** 2, 1),
            }
        dept = str(rng.choice(list(_DEPARTMENTS)))
        duration = float(case.duration_s)
        anestart = float(rng.uniform(0, 60))
        opstart = anestart + float(rng.uniform(60, 120))
        rows.append(
            {
                "caseid": case.caseid,
                "subjectid": case.subjectid,
                "casestart": 0,
                "caseend": round(duration),
                "anestart": round(anestart),
                "aneend": round(duration - rng.uniform(0, 30)),
                "opstart": round(opstart),
                "opend": round(duration - rng.uniform(60, 120)),
                **person[case.subjectid],
                "asa": int(rng.choice([1, 2, 3, 4], p=[0.25, 0.5, 0.2, 0.05])),
                "emop": int(rng.random() < 0.1),
                "department": dept,
                "optype": str(rng.choice(_DEPARTMENTS[dept])),
                "approach": str(rng.choice(["Open", "Videoscopic", "Robotic"])),
                "position": str(rng.choice(["Supine", "Lithotomy", "Reverse Trendelenburg"])),
                "ane_type": "General",
                "preop_htn": int(case.base_map_mmhg > 92),
                "preop_dm": int(rng.random() < 0.15),
                "death_inhosp": 0,
                "icu_days": int(rng.random() < 0.1),
            }
        )
    return pd.DataFrame(rows)


def synthesize(
    params: SynthParams,
    out: Path,
    progress: Callable[[Iterable[Any], int, str], Iterator[Any]] = _no_progress,
) -> dict[str, Any]:
    """Write ``out/vitaldb`` (.vital + cases.csv) and ``out/butppg``; return summary metrics."""
    root_seq = np.random.SeedSequence(params.seed)
    layout_seq, vital_seq, but_seq, table_seq = root_seq.spawn(4)
    layout = np.random.default_rng(layout_seq)
    vp, bp = params.vitaldb, params.butppg
    with atomic_dir(Path(out)) as tmp:
        (tmp / VITAL_DIR).mkdir()
        subjects = _case_subjects(layout, vp.n_cases, vp.n_subjects)
        durations = layout.uniform(*vp.duration_min, size=vp.n_cases) * 60.0
        vjobs = [
            VitalJob(i + 1, 5000 + int(s), round(float(d)), seq, tmp / VITAL_DIR / f"{i + 1}.vital")
            for i, (s, d, seq) in enumerate(
                zip(subjects, durations, vital_seq.spawn(vp.n_cases), strict=True)
            )
        ]
        vitals = pd.DataFrame(_run(_vital_job, vjobs, params.workers, progress, "vitaldb cases"))
        vitals["subjectid"] = [j.subjectid for j in vjobs]
        table = clinical_table(np.random.default_rng(table_seq), vitals)
        table.to_csv(tmp / VITAL_DIR / "cases.csv", index=False)

        n_records = bp.n_subjects * bp.records_per_subject
        good = np.zeros(n_records, dtype=bool)
        good[: round(bp.good_fraction * n_records)] = True
        layout.shuffle(good)
        subject_hr = layout.uniform(55, 100, size=bp.n_subjects)
        bjobs = [
            ButPPGJob(
                f"{100 + i // bp.records_per_subject:03d}{i % bp.records_per_subject + 1:03d}",
                bool(good[i]),
                float(subject_hr[i // bp.records_per_subject]),
                seq,
                tmp / BUTPPG_DIR,
            )
            for i, seq in enumerate(but_seq.spawn(n_records))
        ]
        (tmp / BUTPPG_DIR).mkdir()
        ann = pd.DataFrame(_run(_butppg_job, bjobs, params.workers, progress, "BUT-PPG records"))
        ann.to_csv(tmp / BUTPPG_DIR / ANNOTATIONS, index=False)
        _subject_info(layout, ann, bp.records_per_subject).to_csv(
            tmp / BUTPPG_DIR / SUBJECT_INFO, index=False
        )

    events: Counter[str] = Counter()
    for counts in vitals["events"]:
        events.update(counts)
    return {
        "vitaldb": {
            "cases": vp.n_cases,
            "subjects": vp.n_subjects,
            "hours": round(float(vitals["duration_s"].sum()) / 3600, 3),
            "hypotension_fraction": round(
                float(vitals["hypotension_s"].sum() / vitals["duration_s"].sum()), 4
            ),
            "cases_with_bis": int(vitals["has_bis"].sum()),
            "events": dict(sorted(events.items())),
        },
        "butppg": {
            "records": n_records,
            "subjects": bp.n_subjects,
            "good_fraction": round(float(ann["Quality"].mean()), 4),
        },
    }


def _subject_info(rng: np.random.Generator, ann: pd.DataFrame, per_subject: int) -> pd.DataFrame:
    """BUT-PPG's per-record subject table; poor records mostly come with motion."""
    rows = []
    person: dict[str, tuple[str, int, int, int]] = {}
    for record_id, quality in zip(ann["ID"], ann["Quality"], strict=True):
        subject = record_id[:3]
        if subject not in person:
            sex = str(rng.choice(["M", "F"]))
            person[subject] = (
                sex,
                int(rng.integers(19, 77)),
                int(rng.normal(178 if sex == "M" else 165, 7)),
                int(rng.normal(80 if sex == "M" else 63, 10)),
            )
        sex, age, height, weight = person[subject]
        motion = "sitting" if quality and rng.random() < 0.8 else str(rng.choice(_MOTIONS))
        rows.append(
            {
                "ID": record_id,
                "Gender": sex,
                "Age": age,
                "Height": height,
                "Weight": weight,
                "Ear/finger": str(rng.choice(["finger", "ear"])),
                "Motion": motion,
            }
        )
    return pd.DataFrame(rows)
