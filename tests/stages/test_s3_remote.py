"""`dvc push` to an S3 remote and `dvc pull` into a fresh clone (slow: ~30 s).

The remote is a moto S3 server on 127.0.0.1 in this process: no AWS account, no network.
The remote is set up as a team would: its URL and ``endpointurl`` in the committed
``.dvc/config``, the credentials only in the git-ignored ``.dvc/config.local``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import moto.server as moto_server
import pytest
import yaml

from tests.stages.repo import copy_repo, dvc, run

pytestmark = pytest.mark.slow


BUCKET = "ttmbio-team"
PREFIX = "ttmbio"
KEY_ID = "testing"
SECRET = "testing-secret"  # distinct from the key id, so a leak of either shows
STAGES = ("synth", "splits")


@dataclass(frozen=True)
class S3:
    endpoint: str
    client: Any  # a boto3 S3 client


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    """A moto S3 server on a free loopback port, with one empty bucket."""
    # nothing AWS from outside leaks into DVC's subprocesses (they inherit os.environ):
    # no keys, profiles, shared files, proxies, and never the EC2 metadata address
    for name in list(os.environ):
        if name.startswith("AWS_") or name.lower() in (
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    # no user- or machine-wide DVC config (a global remote, say) and no Studio calls
    monkeypatch.setenv("DVC_GLOBAL_CONFIG_DIR", str(tmp_path / "dvc-global"))
    monkeypatch.setenv("DVC_SYSTEM_CONFIG_DIR", str(tmp_path / "dvc-system"))
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(tmp_path / "dvc-site-cache"))
    monkeypatch.setenv("DVC_STUDIO_OFFLINE", "true")

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
        )
        client.create_bucket(Bucket=BUCKET)
        yield S3(endpoint, client)
    finally:
        server.stop()


def _keys(client: Any) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def _set_credentials(repo: Path) -> None:
    dvc(repo, "remote", "modify", "--local", "team", "access_key_id", KEY_ID)
    dvc(repo, "remote", "modify", "--local", "team", "secret_access_key", SECRET)


def _metrics(repo: Path) -> dict:
    shown = json.loads(dvc(repo, "metrics", "show", "--json").stdout)
    data = shown[""]["data"]  # the workspace
    return {
        name: data[name]
        for name in ("metrics/synth.json", "metrics/splits.json")
        if name in data  # both asserted below
    }


def _out_md5(repo: Path, stage: str, path: str) -> str:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    (out,) = (o for o in lock["stages"][stage]["outs"] if o["path"] == path)
    return out["md5"]


def test_push_to_s3_and_pull_into_a_fresh_clone(s3: S3, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    copy_repo(repo)
    repro = dvc(repo, "repro", "splits").stdout
    assert all(f"Running stage '{stage}'" in repro for stage in STAGES), repro
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "repro synth, splits")

    dvc(repo, "remote", "add", "-d", "team", f"s3://{BUCKET}/{PREFIX}")
    dvc(repo, "remote", "modify", "team", "endpointurl", s3.endpoint)
    _set_credentials(repo)
    run(repo, "git", "add", ".dvc/config")
    run(repo, "git", "commit", "-q", "-m", "S3 remote")

    committed = run(repo, "git", "show", "HEAD:.dvc/config").stdout
    assert "s3://" in committed and s3.endpoint in committed
    for secret in ("access_key_id", "secret_access_key", KEY_ID, SECRET):
        assert secret not in committed, secret
    local = (repo / ".dvc/config.local").read_text()
    assert KEY_ID in local and SECRET in local
    tracked = run(repo, "git", "ls-files").stdout.splitlines()
    assert ".dvc/config.local" not in tracked
    run(repo, "git", "check-ignore", "-q", ".dvc/config.local")

    assert _keys(s3.client) == []
    dvc(repo, "push", *STAGES)
    keys = _keys(s3.client)
    assert keys and all(key.startswith(f"{PREFIX}/files/md5/") for key in keys), keys
    # exactly the outputs' objects: splits.json, data/raw's listing and every file it names
    # (not the cache: false metrics, which the run cache also keeps locally)
    splits, raw_dir = (
        _out_md5(repo, "splits", "data/splits.json"),
        _out_md5(repo, "synth", "data/raw"),
    )
    listing = json.loads((repo / ".dvc/cache/files/md5" / raw_dir[:2] / raw_dir[2:]).read_text())
    expected = {splits, raw_dir} | {entry["md5"] for entry in listing}
    assert len(listing) > 50
    assert sorted(keys) == sorted(f"{PREFIX}/files/md5/{h[:2]}/{h[2:]}" for h in expected)

    clone = tmp_path / "clone"
    run(tmp_path, "git", "clone", "-q", str(repo), str(clone))
    assert not (clone / ".dvc/config.local").exists()
    assert not (clone / "data/splits.json").exists() and not (clone / "data/raw").exists()
    # the committed config alone cannot read the bucket: the keys live in config.local
    denied = dvc(clone, "pull", *STAGES, check=False)
    assert denied.returncode != 0, denied.stdout
    assert "unable to locate credentials" in (denied.stdout + denied.stderr).lower(), denied
    assert not (clone / "data/splits.json").exists()

    _set_credentials(clone)
    dvc(clone, "pull", *STAGES)

    def tree(root: Path) -> list[Path]:
        return sorted(p.relative_to(root) for p in (root / "data/raw").rglob("*") if p.is_file())

    assert tree(clone) == tree(repo)
    vitals = [rel for rel in tree(repo) if rel.suffix == ".vital"]
    assert vitals
    for rel in (Path("data/splits.json"), Path("data/raw/butppg/quality-hr-ann.csv"), *vitals):
        assert (clone / rel).read_bytes() == (repo / rel).read_bytes(), rel
    status = dvc(clone, "status", *STAGES).stdout
    assert "Data and pipelines are up to date." in status, status
    assert "in sync" in dvc(clone, "status", "--cloud", *STAGES).stdout

    metrics = _metrics(repo)
    assert set(metrics) == {"metrics/synth.json", "metrics/splits.json"}, metrics
    assert _metrics(clone) == metrics
