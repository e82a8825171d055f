"""The package as a user meets it: import checks, the command line, the set-up files."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_python(code, **env):
    environment = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment,
                          cwd=ROOT, timeout=120)


def test_another_keras_backend_is_refused_with_how_to_switch():
    result = run_python("import xai_widgets", KERAS_BACKEND="numpy")
    assert result.returncode != 0
    assert "KERAS_BACKEND=tensorflow" in result.stderr and "'numpy'" in result.stderr


def test_a_missing_tensorflow_names_the_extra_to_install():
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'tensorflow' or name.startswith('tensorflow.'):\n"
        "            raise ImportError('No module named ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import xai_widgets\n"
    )
    result = run_python(blocker)
    assert result.returncode != 0
    assert "pip install 'xai-widgets[cpu]'" in result.stderr


def test_the_command_line_lists_methods_and_writes_a_png(tmp_path):
    listed = subprocess.run([sys.executable, "-m", "xai_widgets.cli", "methods"], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert listed.returncode == 0 and "saliency" in listed.stdout.split()
    out = tmp_path / "map.png"
    explained = subprocess.run(
        [sys.executable, "-m", "xai_widgets.cli", "explain", "shapes_cnn", "--zoo-image", "2",
         "--method", "saliency", "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert explained.returncode == 0, explained.stderr
    assert out.stat().st_size > 100 and "saliency: class" in explained.stdout


@pytest.mark.parametrize("command", ["make demo", "make test", "make demo-headless"])
def test_the_readme_documents_the_set_up_commands(command):
    assert command in (ROOT / "README.md").read_text()


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.slow
def test_a_wheel_built_from_the_sources_carries_the_built_front_end_and_the_models(tmp_path):
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((ROOT / name).read_bytes())
    assert not (source / "xai_widgets" / "static").exists()
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                            str(source)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    import zipfile

    (wheel,) = (tmp_path / "dist").glob("xai_widgets-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "xai_widgets/static/explorer.js" in names
    assert {"xai_widgets/zoo/shapes_cnn.keras", "xai_widgets/zoo/shapes_resnet.keras"} <= set(names)
