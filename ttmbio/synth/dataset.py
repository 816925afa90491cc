"""The embedded default dataset: synthetic VitalDB cases and BUT-PPG records, real formats.

Every case and record draws from its own child of one ``SeedSequence``, so the output is the
same whatever the number of worker processes, and the same seed gives byte-identical files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ttmbio.atomic import atomic_dir
from ttmbio.parallel import ordered_map
from ttmbio.params import SynthParams
from ttmbio.sources.datasets.butppg import ANNOTATIONS, SUBJECT_INFO
from ttmbio.synth.butppg import flip_balanced, simulate_butppg_record
from ttmbio.synth.case_profile import STRONG_PRECURSOR
from ttmbio.synth.formats import write_butppg_record, write_vital_case
from ttmbio.synth.marker import mark_synthetic
from ttmbio.synth.physiology import CaseMix, random_case_profile, simulate_vital_case

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
_MOTION_LABELS = {  # subject-info "Motion" for the phone movement of a record
    "still": ["sitting", "sitting", "standing"],
    "walking": ["walking"],
    "hand": ["hand movement"],
    "fidget": ["hand movement", "coughing", "talking"],
}


@dataclass(frozen=True)
class VitalJob:
    caseid: int
    subjectid: int
    duration_s: float
    seed: np.random.SeedSequence
    path: Path
    mix: CaseMix = field(default_factory=CaseMix)


@dataclass(frozen=True)
class ButPPGJob:
    record_id: str
    good: bool  # quality the PPG is generated with
    base_hr_bpm: float
    seed: np.random.SeedSequence
    folder: Path
    label: bool | None = None  # annotated quality (None: = good)
    borderline_fraction: float = 0.3
    moving_fraction: tuple[float, float] = (0.25, 0.5)


def _vital_job(job: VitalJob) -> dict[str, Any]:
    rng = np.random.default_rng(job.seed)
    profile = random_case_profile(rng, job.duration_s, job.mix)
    signals = simulate_vital_case(profile, rng)
    write_vital_case(job.path, signals, _DTSTART + 86_400.0 * job.caseid)
    kinds = Counter(e.kind for e in signals.events)

    def seconds(kind: str) -> float:
        return sum(e.end_s - e.start_s for e in signals.events if e.kind == kind)

    return {
        "caseid": job.caseid,
        "duration_s": job.duration_s,
        "hypotension_s": seconds("hypotension"),
        "af_s": seconds("af"),
        "base_hr_bpm": profile.base_hr_bpm,
        "base_map_mmhg": profile.base_map_mmhg,
        "has_bis": profile.has_bis,
        "low_perfusion": profile.low_perfusion,
        "warned_episodes": sum(s >= STRONG_PRECURSOR[0] for s in profile.precursor_strengths),
        "pathology": {k: kinds[k] > 0 for k in ("pvc", "pac", "af", "map_dip")},
        "events": kinds,
    }


def _butppg_job(job: ButPPGJob) -> dict[str, Any]:
    rng = np.random.default_rng(job.seed)
    sig = simulate_butppg_record(
        rng,
        good=job.good,
        base_hr_bpm=job.base_hr_bpm,
        label=job.label,
        borderline_fraction=job.borderline_fraction,
        moving_fraction=job.moving_fraction,
    )
    write_butppg_record(job.folder, job.record_id, sig)
    return {
        "ID": job.record_id,
        "Quality": sig.quality,
        "HR": round(float(sig.hr_bpm), 1),
        "true_quality": sig.true_quality,
        "motion": sig.motion,
    }


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
    mix = vp.mix
    with atomic_dir(Path(out)) as tmp:
        (tmp / VITAL_DIR).mkdir()
        subjects = _case_subjects(layout, vp.n_cases, vp.n_subjects)
        durations = layout.uniform(*vp.duration_min, size=vp.n_cases) * 60.0
        vjobs = [
            VitalJob(
                i + 1, 5000 + int(s), round(float(d)), seq, tmp / VITAL_DIR / f"{i + 1}.vital", mix
            )
            for i, (s, d, seq) in enumerate(
                zip(subjects, durations, vital_seq.spawn(vp.n_cases), strict=True)
            )
        ]
        vitals = pd.DataFrame(_run(_vital_job, vjobs, params.workers, progress, "vitaldb cases"))
        vitals["subjectid"] = [j.subjectid for j in vjobs]
        table = clinical_table(np.random.default_rng(table_seq), vitals)
        table.to_csv(tmp / VITAL_DIR / "cases.csv", index=False)

        n_records = bp.n_subjects * bp.records_per_subject
        labels = np.zeros(n_records, dtype=bool)
        labels[: round(bp.good_fraction * n_records)] = True
        layout.shuffle(labels)
        good = flip_balanced(layout, labels, bp.label_noise)  # the annotators' disagreement
        subject_hr = layout.uniform(55, 100, size=bp.n_subjects)
        bjobs = [
            ButPPGJob(
                f"{100 + i // bp.records_per_subject:03d}{i % bp.records_per_subject + 1:03d}",
                bool(good[i]),
                float(subject_hr[i // bp.records_per_subject]),
                seq,
                tmp / BUTPPG_DIR,
                label=bool(labels[i]),
                borderline_fraction=bp.borderline_fraction,
                moving_fraction=bp.moving_fraction,
            )
            for i, seq in enumerate(but_seq.spawn(n_records))
        ]
        (tmp / BUTPPG_DIR).mkdir()
        ann = pd.DataFrame(_run(_butppg_job, bjobs, params.workers, progress, "BUT-PPG records"))
        ann[["ID", "Quality", "HR"]].to_csv(tmp / BUTPPG_DIR / ANNOTATIONS, index=False)
        _subject_info(layout, ann, bp.records_per_subject).to_csv(
            tmp / BUTPPG_DIR / SUBJECT_INFO, index=False
        )
        for folder in (VITAL_DIR, BUTPPG_DIR):
            mark_synthetic(tmp / folder, params.seed)

    events: Counter[str] = Counter()
    for counts in vitals["events"]:
        events.update(counts)
    cases_with: Counter[str] = Counter()
    for flags in vitals["pathology"]:
        cases_with.update(k for k, v in flags.items() if v)
    moving = ann["motion"] != "still"
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
            "pathology": {
                "cases_with_pvc": cases_with["pvc"],
                "cases_with_pac": cases_with["pac"],
                "cases_with_af": cases_with["af"],
                "cases_with_map_dip": cases_with["map_dip"],
                "cases_low_perfusion": int(vitals["low_perfusion"].sum()),
                "af_fraction": round(float(vitals["af_s"].sum() / vitals["duration_s"].sum()), 4),
                "episodes_with_precursor": int(vitals["warned_episodes"].sum()),
            },
        },
        "butppg": {
            "records": n_records,
            "subjects": bp.n_subjects,
            "good_fraction": round(float(ann["Quality"].mean()), 4),
            "label_flips": int((ann["Quality"] != ann["true_quality"]).sum()),
            "moving_good": round(float(moving[ann["Quality"] == 1].mean()), 4),
            "moving_poor": round(float(moving[ann["Quality"] == 0].mean()), 4),
        },
    }


def _subject_info(rng: np.random.Generator, ann: pd.DataFrame, per_subject: int) -> pd.DataFrame:
    """BUT-PPG's per-record subject table; "Motion" follows the record's phone movement."""
    rows = []
    person: dict[str, tuple[str, int, int, int]] = {}
    for record_id, phone in zip(ann["ID"], ann["motion"], strict=True):
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
        motion = str(rng.choice(_MOTION_LABELS[phone]))
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
