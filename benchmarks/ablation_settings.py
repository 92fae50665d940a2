"""The ablation scripts' settings: `key=value[,key=value...]`, values read as YAML; "" is no override."""
from __future__ import annotations

import yaml


def parse_setting(text: str) -> dict:
    return {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in text.split(",") if item)}
