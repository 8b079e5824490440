"""The README's commands, run literally (only the address differs) against a live server that
`make run`'s steps started in an empty directory, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
README_URL = "http://127.0.0.1:8000"


def shell_blocks(section: str) -> list[str]:
    """The ```sh blocks of one `## ` section of the README."""
    start = README.index(f"## {section}")
    end = README.find("\n## ", start + 1)
    return re.findall(r"```sh\n(.*?)```", README[start:end if end > 0 else None], re.DOTALL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], str]]:
    """`make run`: migrate, load the demo, serve; in a directory of its own, with the repository's .venv."""
    work = tmp_path / "checkout"
    work.mkdir()
    # The README calls .venv/bin/cir: the environment running the tests (`make test` uses ROOT/.venv).
    (work / ".venv").symlink_to(ROOT / ".venv" if (ROOT / ".venv" / "bin" / "cir").exists() else Path(sys.prefix))
    env = {**os.environ, "CIR_DATABASE_URL": db_url}
    env.pop("CIR_API_KEY", None)
    cir = str(work / ".venv" / "bin" / "cir")
    for step in (["db", "upgrade"], ["demo", "--if-empty"]):
        subprocess.run([cir, *step], cwd=work, env=env, check=True, capture_output=True, timeout=300)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([cir, "serve", "--port", str(port)], cwd=work, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v1/log/key", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError((tmp_path / "serve.log").read_text())
            time.sleep(0.2)
        yield work, env, url
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def run(block: str, work: Path, env: dict[str, str], url: str) -> str:
    script = block.replace(README_URL, url)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=work, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, f"{script}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    return result.stdout + result.stderr


def test_the_readme_demo_and_walkthrough_work_as_written(served: tuple[Path, dict[str, str], str]) -> None:
    work, env, url = served
    # One shell per section, as a reader runs them one after the other.
    out = run("\n".join(shell_blocks("The demo")), work, env, url)
    assert "VERIFIED" in out and "Baiyun ready-mix concrete plant" in out and "1823890 kg" in out
    assert "net-zero certificate CIR-NZ-2025-" in out and "residual emissions: 1,823.890 t" in out
    assert (work / "certificate.pdf").read_bytes().startswith(b"%PDF")
    assert '"mode":"bilateral"' in out and '"loan_reference":"BOS-GL-2026-0042"' in out
    assert "SIP household rooftops" in out and "rows written to retirements.csv" in out
    assert (work / "retirements.csv").read_text().startswith("id,quantity_kg,beneficiary_name")
    assert "iss_" in out and '"cross_regional_retirements":1' in out
    assert '"quantity_kg":5000' in out and "2000 kg to acct_" in out and "transfer" in out
    assert "2 transfers, 500 kg" in out  # cir transfer-batch batch.csv
    assert "WETLAND-REMOVALS" in out and "ask      6,150 fen/t       19,500 kg (1)" in out
    assert "Taizhou Bay salt-marsh removals, 30 t" in out and "8420" in out
    out = run("\n".join(shell_blocks("Walkthrough")), work, env, url)
    assert "is registered" in out and "is submitted" in out and "signing:" in out
    assert out.count("VERIFIED") == 2 and "NOT VERIFIED" not in out
    assert re.search(r"vintage 2025: verified [\d,]+ kg of [\d,]+ computed", out)
