"""The base every spec model shares: unknown fields are errors, specs are immutable."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict

from etl_core.spec.paths import PART_NAME, check_name, check_uri_template


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: Column types a spec may declare; they map onto Arrow types in etl_core.schema. ``json``
#: keeps a nested value as JSON text: it makes the pipeline semi-structured, and the Flatten
#: step expands it into columns before the SQL runs.
TypeName = Literal["string", "int32", "int64", "float64", "bool", "date", "timestamp", "decimal(10,2)", "decimal(18,2)", "json"]

#: How the state machine routes a pipeline (the seed's "conditional processing" pattern).
DataType = Literal["structured", "semi_structured", "streaming"]

#: A source or target name: it becomes a part of staging and quarantine paths.
PartName = Annotated[str, AfterValidator(lambda v: check_name(v, PART_NAME, "name"))]

#: A spec URI of storage (file sources, lake targets): no local paths, no ``..``.
StorageUri = Annotated[str, AfterValidator(check_uri_template)]
