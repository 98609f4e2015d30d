"""Versioned prompt templates, kept as text files in ``templates/`` (``<name>_v<N>.txt``).

A template uses ``str.format`` fields. Changing a template's text means adding a new version file: the version is
part of the generation cache key, so old cached texts are never mistaken for new ones.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources

from autogets.errors import GenerationError


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.name}_{self.version}"

    def render(self, **fields: str) -> str:
        return self.text.format(**fields)

    def key(self, **fixed: object) -> str:
        """The cache key of this template with the fields a generator fixes for all its prompts (class
        descriptions, number of shots): ``id`` alone when there are none, else ``id`` plus a short hash of them."""
        if not any(fixed.values()):
            return self.id
        blob = json.dumps(fixed, sort_keys=True, default=str).encode("utf-8")
        return f"{self.id}+{hashlib.sha256(blob).hexdigest()[:8]}"


def load_prompt(name: str, version: str) -> PromptTemplate:
    """The template ``prompts/<name>_<version>.txt``."""
    resource = resources.files("autogets.generators").joinpath("templates", f"{name}_{version}.txt")
    if not resource.is_file():
        raise GenerationError(f"no prompt template {name!r} version {version!r}")
    return PromptTemplate(name=name, version=version, text=resource.read_text(encoding="utf-8"))
