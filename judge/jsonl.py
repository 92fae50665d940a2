"""Reading JSONL files whose every error names the file and line."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def read_records(path: str | Path, error: type[ValueError]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`path:line`, record) for every non-blank line; a missing file or a bad line raises `error`."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: file not found")
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise error(f"{where}: not valid JSON: {err.msg}") from None
            if not isinstance(record, dict):
                raise error(f"{where}: each line must be a JSON object")
            yield where, record
