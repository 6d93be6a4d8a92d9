"""The base every spec model shares: unknown fields are errors, specs are immutable."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: Column types a spec may declare; they map onto Arrow types in etl_core.schema. ``json``
#: keeps a nested value as JSON text: it makes the pipeline semi-structured, and the Flatten
#: step expands it into columns before the SQL runs.
TypeName = Literal["string", "int32", "int64", "float64", "bool", "date", "timestamp", "decimal(10,2)", "decimal(18,2)", "json"]

#: How the state machine routes a pipeline (the seed's "conditional processing" pattern).
DataType = Literal["structured", "semi_structured", "streaming"]
