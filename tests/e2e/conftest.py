import os
import shutil

import pytest

from tests.widgets.frontend import ensure_bundle

from .servers import JupyterServer, isolated_environment, write_kernelspec

CHROMIUM = os.environ.get("XW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def e2e_environment(e2e_dir):
    ensure_bundle()
    environment = isolated_environment(e2e_dir / "env")
    write_kernelspec(environment)
    return environment


@pytest.fixture(scope="module")  # closed after each module, so nothing of Playwright outlives the e2e tests
def browser(e2e_dir, e2e_environment):
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(f"the end-to-end tests need Chromium at {CHROMIUM} (make test installs it; or set XW_CHROMIUM).")
    keys = ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME")
    environment = dict(os.environ, **{key: e2e_environment[key] for key in keys})
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, env=environment)
        yield launched
        launched.close()


@pytest.fixture(params=["lab", "notebook"])
def jupyter(request, e2e_dir, e2e_environment):
    root = e2e_dir / f"root-{request.param}"
    root.mkdir(exist_ok=True)
    server = JupyterServer(request.param, root, e2e_environment, e2e_dir / f"{request.param}.log")
    try:
        server.wait_until_up()
        yield server
    finally:
        server.stop()
