"""`make demo-headless` serves the tour notebook with a kernel that has the package and its models."""

import json
import os
import pathlib
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_make_demo_headless_serves_the_tour_notebook(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    environment = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
                       JUPYTER_DATA_DIR=str(tmp_path / "data"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    server = subprocess.Popen(
        ["make", "-s", "-o", ".venv/.installed", "demo-headless",
         f"DEMO_ARGS=--port={port} --IdentityProvider.token={token} --ServerApp.port_retries=0"],
        cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                # the server's root is the notebook's folder
                notebook = get_json(f"{base}/api/contents/tour.ipynb?token={token}")
                break
            except urllib.error.HTTPError:
                raise
            except OSError:
                assert server.poll() is None, "make demo-headless exited before serving"
                assert time.monotonic() < deadline, "JupyterLab did not answer within 90 s"
                time.sleep(1)
        assert notebook["type"] == "notebook"
        assert any("xw.show" in "".join(cell["source"]) for cell in notebook["content"]["cells"])
        assert "python3" in get_json(f"{base}/api/kernelspecs?token={token}")["kernelspecs"]
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
