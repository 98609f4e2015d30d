"""Versioned prompt templates, kept as text files in ``templates/`` (``<name>_v<N>.txt``).

A template uses ``str.format`` fields. Changing a template's text means adding a new version file: the version is
part of the generation cache key, so old cached texts are never mistaken for new ones.
"""

from __future__ import annotations

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


def load_prompt(name: str, version: str) -> PromptTemplate:
    """The template ``prompts/<name>_<version>.txt``."""
    resource = resources.files("autogets.generators").joinpath("templates", f"{name}_{version}.txt")
    if not resource.is_file():
        raise GenerationError(f"no prompt template {name!r} version {version!r}")
    return PromptTemplate(name=name, version=version, text=resource.read_text(encoding="utf-8"))
