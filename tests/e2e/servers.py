"""Jupyter servers for the end-to-end tests: started on 127.0.0.1 with a token, inside a temp dir.

Everything a server, its kernel and the browser write (config, data, runtime,
IPython, Keras, matplotlib, XDG caches, HOME) points into the temp dir. The
kernel is this very Python (``sys.executable``), via a kernelspec written into
the temp ``JUPYTER_DATA_DIR``, with the repository on ``PYTHONPATH``.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
APPS = {"lab": ("lab", "lab/tree/{name}"), "notebook": ("notebook", "notebooks/{name}")}
# Errors Jupyter's own front end raises with no widget on the page (reproduced on an empty
# notebook): Notebook 7.6.5's shortcuts settings plugin reads the schema of a plugin that is
# not loaded. Ignored only when every stack frame is in that app's own bundles.
JUPYTER_OWN_ERRORS = {("notebook", "Cannot read properties of undefined (reading 'schema')"): "/static/notebook/"}


def isolated_environment(base):
    """Environment variables that keep every write inside ``base``."""
    folders = {
        "HOME": "home", "JUPYTER_CONFIG_DIR": "jupyter-config", "JUPYTER_DATA_DIR": "jupyter-data",
        "JUPYTER_RUNTIME_DIR": "jupyter-runtime", "IPYTHONDIR": "ipython", "KERAS_HOME": "keras",
        "MPLCONFIGDIR": "matplotlib", "XDG_CONFIG_HOME": "xdg-config", "XDG_CACHE_HOME": "xdg-cache",
        "XDG_DATA_HOME": "xdg-data",
    }
    environment = dict(os.environ)
    for variable, folder in folders.items():
        path = Path(base) / folder
        path.mkdir(parents=True, exist_ok=True)
        environment[variable] = str(path)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    environment.update(KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2", JUPYTER_PLATFORM_DIRS="1",
                       PYTHONNOUSERSITE="1")
    return environment


def write_kernelspec(environment):
    """A ``python3`` kernelspec that runs ``sys.executable`` (the Python running pytest)."""
    folder = Path(environment["JUPYTER_DATA_DIR"]) / "kernels" / "python3"
    folder.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (xai-widgets tests)",
        "language": "python",
        "env": {"PYTHONPATH": environment["PYTHONPATH"]},
    }
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class JupyterServer:
    """``jupyter lab`` or ``jupyter notebook`` (7) serving ``root`` until `stop`."""

    def __init__(self, app, root, environment, log_path):
        self.app, self.root = app, Path(root)
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "jupyter", APPS[app][0], "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
            "--ServerApp.port_retries=0",
            "--LabApp.news_url=", "--LabApp.extension_manager=readonly",  # nothing fetched from the network
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root
            command.append("--allow-root")
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(command, cwd=self.root, env=environment, stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def url(self, notebook):
        # JupyterLab restores the last workspace (earlier tests' notebooks) unless told to reset
        reset = "&reset" if self.app == "lab" else ""
        return f"{self.base}/{APPS[self.app][1].format(name=notebook)}?token={self.token}{reset}"

    def api(self, path):
        request = urllib.request.Request(f"{self.base}{path}", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def wait_until_up(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter {self.app} exited with {self.process.returncode}; see {self.log.name}")
            try:
                self.api("/api/status")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.3)
        raise TimeoutError(f"jupyter {self.app} did not answer within {timeout} s; see {self.log.name}")

    def wait_for_idle_kernel(self, timeout=180):
        """Wait until a kernel exists and reports ``idle`` (it has started and imported nothing yet)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                kernels = self.api("/api/kernels")
            except urllib.error.HTTPError as error:  # the server may answer 500 while a kernel is starting
                if error.code < 500:
                    raise
                kernels = []
            if kernels and all(kernel["execution_state"] == "idle" for kernel in kernels):
                return kernels
            time.sleep(0.3)
        raise TimeoutError(f"no idle kernel within {timeout} s: {self.api('/api/kernels')}")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


@contextmanager
def watched_page(browser, failure_png, ignore=lambda error: False):
    """A fresh 1400×1000 page, with the console errors, page errors and dialogs it raises.

    Yields ``(page, problems, dialogs)``; page errors for which ``ignore`` is
    true are not recorded. If the block fails, the page is saved to
    ``failure_png`` and what it showed is printed.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    problems, dialogs = [], []
    page.on("console", lambda message: problems.append(f"{message.text} ({message.location.get('url')})")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: None if ignore(error) else problems.append(
        f"{error} {getattr(error, 'stack', '')}"))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        yield page, problems, dialogs
    except Exception:
        page.screenshot(path=str(failure_png), full_page=True)
        print(f"console errors: {problems}")
        print(page.locator(".jp-OutputArea").all_inner_texts())
        raise
    finally:
        context.close()


def is_jupyters_own(app, error):
    """Whether a Playwright page error is one of `JUPYTER_OWN_ERRORS`, raised wholly inside Jupyter's bundles."""
    bundle = JUPYTER_OWN_ERRORS.get((app, error.message))
    frames = [line.strip() for line in (error.stack or "").splitlines()[1:] if line.strip().startswith("at ")]
    return bundle is not None and bool(frames) and all(bundle in frame or "(index" in frame for frame in frames)


def write_notebook(folder, name, cells):
    """Write a notebook of code ``cells`` for the kernel ``python3`` and return its name."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(notebook, folder / name)
    return name


def run_all_cells(page):
    page.get_by_role("menuitem", name="Run", exact=True).first.click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).first.click()
