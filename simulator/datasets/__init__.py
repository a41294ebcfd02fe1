"""Dataset files: a whole PagerDuty account in YAML or JSON, validated before anything serves it.

A bare name ("demo") means a file bundled next to this module; anything else is a path.
Every problem is reported with the file it came from and where in the file it is, because a
dataset is written by hand and a pydantic traceback does not say which service has the typo.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from pydantic import ValidationError

from ..models import Dataset

BUNDLED_DIR = Path(__file__).parent
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml, where installed, reads a dataset 6x faster
_SUFFIXES = (".yaml", ".yml", ".json")


class DatasetError(ValueError):
    """A dataset that cannot be read or does not describe a valid account."""


def bundled_names() -> list[str]:
    return sorted(p.stem for p in BUNDLED_DIR.iterdir() if p.suffix in _SUFFIXES)


def resolve(name_or_path: str | Path) -> Path:
    """The file a dataset name or path designates."""
    text = str(name_or_path)
    if isinstance(name_or_path, str) and "/" not in text and "\\" not in text and not text.endswith(_SUFFIXES):
        for suffix in _SUFFIXES:
            candidate = BUNDLED_DIR / f"{text}{suffix}"
            if candidate.is_file():
                return candidate
        raise DatasetError(f"no bundled dataset named {text!r} (bundled: {', '.join(bundled_names())})")
    path = Path(name_or_path)
    if not path.is_file():
        raise DatasetError(f"dataset file {path} does not exist")
    return path


def _location(loc: tuple, data: object) -> str:
    """`services[3] (Checkout).escalation_policy_id`: list positions named by the item's name or id."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int):
            label = f"[{key}]"
            item = node[key] if isinstance(node, list) and key < len(node) else None
            if isinstance(item, dict) and (item.get("name") or item.get("id")):
                label += f" ({item.get('name') or item.get('id')})"
            parts.append(label)
            node = item
        else:
            parts.append(f".{key}" if parts else str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def parse_dataset(data: object, source: str) -> Dataset:
    """Validate already-parsed data; `source` names it in error messages."""
    if not isinstance(data, dict):
        raise DatasetError(f"{source}: a dataset must be a mapping at the top level")
    try:
        return Dataset.model_validate(data)
    except ValidationError as exc:
        lines = [f"  {_location(err['loc'], data)}: {err['msg']}" for err in exc.errors()]
        raise DatasetError(f"{source}: {exc.error_count()} problem(s) in the dataset:\n" + "\n".join(lines)) from None


def load_dataset(name_or_path: str | Path) -> Dataset:
    """Read, parse and validate a dataset by bundled name or by path (YAML or JSON)."""
    path = resolve(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=SAFE_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read the dataset: {exc}") from None
    return parse_dataset(data, str(path))
