"""Source models: one per connector type, chosen by ``type`` in the spec."""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, field_validator

from etl_core.spec.base import Strict as _Strict
from etl_core.spec.base import TypeName


class CsvOptions(_Strict):
    delimiter: str = ","
    header: bool = True
    quote_char: str = '"'
    encoding: str = "utf8"


class FileSource(_Strict):
    """Objects in S3 (or a local folder): one object or every object under a prefix."""

    name: str
    type: Literal["s3"] = "s3"
    uri: str
    format: Literal["csv", "jsonl", "parquet"]
    csv: CsvOptions = CsvOptions()
    columns: dict[str, TypeName]

    @field_validator("columns")
    @classmethod
    def _columns_present(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("declare at least one column")
        return value


Source = Annotated[Union[FileSource], Field(discriminator="type")]


