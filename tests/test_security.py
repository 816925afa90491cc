"""Source and config checks: no committed DVC credentials, safe checkpoint loads, TLS on.

Each check is a small scanner, tested here on planted text as well, so that a check which
could never fail does not pass for the wrong reason.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("ttmbio", "stages")

# DVC remote options that hold a secret (or point at one's own credential files): they belong
# in `.dvc/config.local` (`dvc remote modify --local`), which git ignores, never in `.dvc/config`
CREDENTIAL_KEYS = (
    "access_key_id",
    "secret_access_key",
    "session_token",
    "sse_customer_key",
    "credentialpath",
    "password",
    "passphrase",
    "key_secret",
    "oss_key_id",
    "oss_key_secret",
    "account_key",
    "sas_token",
    "connection_string",
    "client_secret",
    "gdrive_client_secret",
    "gdrive_user_credentials_file",
    "keyfile",
    "token",
)
_CONFIG_KEY = re.compile(r"^\s*([A-Za-z_][\w.-]*)\s*=", re.MULTILINE)

# ways to turn TLS certificate checks off in Python or in a DVC remote
_TLS_OFF = re.compile(
    r"\bverify\s*=\s*False\b"
    r"|_create_unverified_context"
    r"|\bCERT_NONE\b"
    r"|\bcheck_hostname\s*=\s*False\b"
    r"|\bssl_verify\b[\"'\]]*\s*[=:,]\s*[\"']?(?:false|no|0)\b"
    r"|PYTHONHTTPSVERIFY[\"'\]]*\s*[=:,]\s*[\"']?0",
    re.IGNORECASE,
)


def credential_keys(config_text: str) -> list[str]:
    """The credential options set in a DVC config file's text."""
    return [key for key in _CONFIG_KEY.findall(config_text) if key.lower() in CREDENTIAL_KEYS]


def unsafe_torch_loads(source: str) -> list[int]:
    """Line numbers of ``torch.load`` calls without a literal ``weights_only=True``.

    ``**kwargs`` or a variable can hide ``weights_only=False``, so only the literal counts;
    ``from torch import load`` (a bare ``load(...)``) is flagged at its import.
    """
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module in ("torch", "torch.serialization"):
            bad += [node.lineno for alias in node.names if alias.name == "load"]
        elif isinstance(node, ast.Call) and _is_torch_load(node.func):
            safe = any(
                kw.arg == "weights_only"
                and isinstance(kw.value, ast.Constant)
                and kw.value.value is True
                for kw in node.keywords
            )
            if not safe:
                bad.append(node.lineno)
    return sorted(bad)


def _is_torch_load(func: ast.expr) -> bool:
    """``torch.load`` or ``torch.serialization.load`` (as written, not via an alias)."""
    if not (isinstance(func, ast.Attribute) and func.attr == "load"):
        return False
    owner = ast.unparse(func.value)
    return owner in ("torch", "torch.serialization")


def tls_disabled(source: str) -> list[str]:
    """The lines of text that turn TLS verification off."""
    return [line.strip() for line in source.splitlines() if _TLS_OFF.search(line)]


def _sources() -> list[Path]:
    files = sorted(p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py"))
    assert files, "no source files found"
    return files


# -------------------------------------------------------------------- the scanners themselves


def test_credential_scanner_finds_planted_keys() -> None:
    planted = (
        "[core]\n    remote = team\n"
        "['remote \"team\"']\n    url = s3://bucket/ttmbio\n"
        "    endpointurl = https://minio.example:9000\n"
        "    access_key_id = AKIA0000\n    secret_access_key=abc\n"
        "['remote \"web\"']\n    password = hunter2\n"
    )
    assert credential_keys(planted) == ["access_key_id", "secret_access_key", "password"]
    assert credential_keys("[core]\n    remote = team\n    autostage = true\n") == []


def test_torch_load_scanner_flags_unsafe_calls() -> None:
    planted = (
        "import torch\n"
        "a = torch.load(path)\n"
        "b = torch.load(path, map_location='cpu', weights_only=False)\n"
        "c = torch.load(\n    path,\n    weights_only=flag,\n)\n"
        "d = torch.load(path, **kwargs)\n"
        "e = torch.serialization.load(path)\n"
        "from torch import load\n"
        "ok = torch.load(path, map_location='cpu', weights_only=True)\n"
        "ok2 = torch.load(\n    path,\n    weights_only=True,\n)\n"
        "torch.save(x, path)\n"
    )
    assert unsafe_torch_loads(planted) == [2, 3, 4, 8, 9, 10]


def test_tls_scanner_flags_planted_lines() -> None:
    planted = [
        "requests.get(url, verify=False)",
        "ctx = ssl._create_unverified_context()",
        "ctx.verify_mode = ssl.CERT_NONE",
        "ctx.check_hostname = False",
        "    ssl_verify = false",
        "remote['ssl_verify'] = False",
        'os.environ["PYTHONHTTPSVERIFY"] = "0"',
    ]
    assert tls_disabled("\n".join(planted)) == [line.strip() for line in planted]
    fine = "verify: Callable[[Path], None]\nself._verify_vital(tmp)\nssl_verify = true\n"
    assert tls_disabled(fine) == []


# -------------------------------------------------------------------- this repository


def test_committed_dvc_config_holds_no_credentials() -> None:
    config = ROOT / ".dvc/config"
    assert config.is_file()
    assert credential_keys(config.read_text()) == [], (
        "move credentials to .dvc/config.local: dvc remote modify --local <remote> <key> <value>"
    )


def test_dvc_config_local_is_git_ignored() -> None:
    assert "/config.local" in (ROOT / ".dvc/.gitignore").read_text().split()
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".dvc/config.local"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0, ".dvc/config.local is not git-ignored"
    tracked = subprocess.run(
        ["git", "ls-files", "--", ".dvc/config.local"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert tracked.stdout.strip() == "", ".dvc/config.local is committed"


def test_every_torch_load_uses_weights_only() -> None:
    bad, calls = [], 0
    for path in _sources():
        source = path.read_text()
        calls += source.count("torch.load(")
        bad += [f"{path.relative_to(ROOT)}:{line}" for line in unsafe_torch_loads(source)]
    assert calls >= 1  # ttmbio/training/checkpoint.py: the scan did look at real code
    assert bad == [], (
        f"torch.load without weights_only=True (use ttmbio.training.checkpoint): {bad}"
    )


def test_tls_verification_is_never_disabled() -> None:
    bad = [
        f"{path.relative_to(ROOT)}: {line}"
        for path in [*_sources(), ROOT / ".dvc/config"]
        for line in tls_disabled(path.read_text())
    ]
    assert bad == [], bad
