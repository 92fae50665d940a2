"""Files named on the command line, found from any working directory.

A relative path that does not exist where the command runs is looked up in the project, so
`llm-auction train --config configs/micro.yaml` and the default `ray_config.yaml` work from anywhere.
"""
from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def project_file(path: str | Path) -> Path:
    """`path` itself if it exists or is absolute, else the project's file of that name if that exists."""
    given = Path(path)
    if given.exists() or given.is_absolute() or not (PROJECT_ROOT / given).exists():
        return given
    return PROJECT_ROOT / given
