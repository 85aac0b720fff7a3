"""``demo --with-prometheus``: a private Prometheus scraping the demo, with the shipped
rules and alerts from the repository checkout (``dashboards/prometheus/``)."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from ...server import _die_with_parent, free_port

__all__ = ["PrometheusProcess", "find_rule_files", "start_prometheus"]

RULE_FILES = ("rules.yml", "alerts.yml")


def find_rule_files() -> tuple[list[Path], str | None]:
    """The rule files, or why there are none (a clear message for the user)."""
    repo = Path(__file__).resolve().parents[3]
    for base in (Path.cwd(), repo):
        directory = base / "dashboards" / "prometheus"
        files = [directory / name for name in RULE_FILES]
        if all(f.is_file() for f in files):
            return files, None
    names = ", ".join(f"dashboards/prometheus/{n}" for n in RULE_FILES)
    return [], f"{names} not found in the current directory or the package's checkout"


class PrometheusProcess:
    def __init__(self, process: subprocess.Popen[bytes], url: str) -> None:
        self.process = process
        self.url = url

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response,  # noqa: S310
        ):
            if response.status == 200:
                return True
        time.sleep(0.2)
    return False


def _write_config(directory: Path, rule_files: list[Path], metrics_port: int) -> Path:
    config = {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": [str(f) for f in rule_files],
        "scrape_configs": [
            {
                "job_name": "token-blacklist-demo",
                "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}],
            }
        ],
    }
    config_file = directory / "prometheus.yml"
    config_file.write_text(json.dumps(config, indent=2))  # JSON is valid YAML
    return config_file


def start_prometheus(metrics_port: int, directory: Path) -> PrometheusProcess | str:
    """A running Prometheus, or the reason it was skipped."""
    binary = shutil.which("prometheus")
    if binary is None:
        return "the prometheus binary is not on PATH (Debian package: prometheus)"
    rule_files, problem = find_rule_files()
    if problem:
        return problem
    config_file = _write_config(directory, rule_files, metrics_port)
    port = free_port()
    log = (directory / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={directory / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--enable-feature=exemplar-storage",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, before exec
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    prometheus = PrometheusProcess(process, url)
    if not _wait_ready(url, process):
        prometheus.stop()
        return f"prometheus did not start; see {directory / 'prometheus.log'}"
    return prometheus
