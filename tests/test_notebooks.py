"""Every teaching notebook runs top to bottom, offline, and follows the course format."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    start = time.perf_counter()
    client.execute(env=env)  # the kernel imports this checkout, not an installed copy
    elapsed = time.perf_counter() - start
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors
    print(f"{path.name}: {elapsed:.1f} s")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_saved_clean_and_follows_the_course_format(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code), (
        "save notebooks without outputs; CI executes them"
    )
    if path.name.startswith("00_"):
        return  # the tour has no exercise
    text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert "Exercise" in text
    assert re.search(r"\b(19|20)\d\d\b", text), "name the papers (authors, year, title)"
    hidden = [
        cell
        for cell in code
        if cell.metadata.get("jupyter", {}).get("source_hidden")
        and "solution" in cell.metadata.get("tags", [])
    ]
    assert hidden, "the exercise's answer goes in a hidden cell tagged 'solution'"
