"""Binder and the README: the badges open the tour, binder/ builds what the tour needs."""

import os
import re
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BINDER = ROOT / "binder"


def _repository():
    # pyproject's [project.urls] Homepage (a regex: tomllib needs Python 3.11)
    homepage = re.search(r'^Homepage = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    url = urllib.parse.urlparse(homepage.group(1))
    assert url.netloc == "github.com"
    return url.path.strip("/")


def _binder_links():
    return re.findall(r"\]\((https://mybinder\.org/v2/gh/[^)\s]+)\)", README)


def test_the_badges_open_the_tour_in_jupyterlab_and_in_voila():
    links = [urllib.parse.urlparse(u) for u in _binder_links()]
    assert len(links) == 2
    queries = [urllib.parse.parse_qs(link.query) for link in links]
    for link in links:
        assert link.path == f"/v2/gh/{_repository()}/HEAD"
    lab, voila = queries
    assert lab == {"labpath": ["notebooks/00_tour.ipynb"]}
    assert voila == {"urlpath": ["voila/render/notebooks/00_tour.ipynb"]}
    assert (ROOT / lab["labpath"][0]).is_file()
    assert all("%2F" in link.query for link in links), "the paths are URL-encoded"


def test_readme_images_exist():
    images = re.findall(r"!\[[^\]]*\]\((docs/images/[^)]+)\)", README)
    assert {"docs/images/workbench.png", "docs/images/workbench_compare.png"} <= set(images)
    for image in images:
        assert (ROOT / image).is_file(), image


def test_binder_builds_cpu_torch_voila_and_the_package():
    requirements = (BINDER / "requirements.txt").read_text().splitlines()
    lines = [line.strip() for line in requirements if line.strip() and not line.startswith("#")]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    ci_torch = re.search(r'pip install -q "torch==([\d.]+)"', (ROOT / ".ci/run").read_text())
    assert f"torch=={ci_torch.group(1)}+cpu" in lines, "the CPU build of the torch CI uses"
    assert any(line.startswith("voila") for line in lines)
    post_build = BINDER / "postBuild"
    assert os.access(post_build, os.X_OK)
    assert "python -m pip install --no-cache-dir ." in post_build.read_text()
    assert re.fullmatch(r"python-3\.\d+\s*", (BINDER / "runtime.txt").read_text())
