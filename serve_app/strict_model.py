"""The base of every config model: unknown keys are an error, and a model loads from a YAML file."""

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict

Model = TypeVar("Model", bound="StrictModel")


class StrictModel(BaseModel):
    """A pydantic model that rejects unknown keys, so a typo fails at load time."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def from_yaml(cls: type[Model], path: str | Path) -> Model:
        """Validate the YAML mapping in `path` as this model."""
        return cls.model_validate(yaml.safe_load(Path(path).read_text()))
