"""ItemBatcher: hand a Distributed Map's child executions several items at once.

Follows the AWS developer guide, "ItemBatcher (Map)": each child gets
``{"Items": [...], "BatchInput": ...}`` (BatchInput only when given), a batch holds at most
``MaxItemsPerBatch`` items and at most ``MaxInputBytesPerBatch`` bytes of that JSON (each also
as a ``...Path``), and without either limit a batch is only bounded by the 256 KiB payload
quota. Items arrive here already transformed by ItemSelector, which applies per item. A bad
limit or an item too large for any batch is a ``ValueError`` the Map reports as States.Runtime.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from .history import to_json
from .states.base import PAYLOAD_LIMIT_BYTES

Evaluate = Callable[[Any, str], Any]
ReadPath = Callable[[str], Any]


class ItemBatcher:
    """A compiled ``ItemBatcher`` block."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def batches(self, items: list[Any], evaluate: Evaluate, read_path: ReadPath) -> list[dict[str, Any]]:
        max_items = self._limit("MaxItemsPerBatch", evaluate, read_path)
        max_bytes = self._limit("MaxInputBytesPerBatch", evaluate, read_path) or PAYLOAD_LIMIT_BYTES
        head: dict[str, Any] = {"Items": []}
        if "BatchInput" in self.spec:
            head["BatchInput"] = evaluate(self.spec["BatchInput"], "ItemBatcher/BatchInput")
        empty_size = len(to_json(head).encode())
        batches: list[dict[str, Any]] = []
        current: list[Any] = []
        size = empty_size
        for item in items:
            item_size = len(to_json(item).encode()) + (1 if current else 0)  # the comma
            if current and ((max_items and len(current) >= max_items) or size + item_size > max_bytes):
                batches.append({**head, "Items": current})
                current, size, item_size = [], empty_size, item_size - 1
            if empty_size + item_size > max_bytes:
                raise ValueError(f"An item is {item_size} bytes, over the MaxInputBytesPerBatch of {max_bytes}.")
            current.append(item)
            size += item_size
        if current:
            batches.append({**head, "Items": current})
        return batches

    def _limit(self, field: str, evaluate: Evaluate, read_path: ReadPath) -> int | None:
        if field + "Path" in self.spec:
            value = read_path(self.spec[field + "Path"])
        elif field in self.spec:
            value = evaluate(self.spec[field], f"ItemBatcher/{field}")
        else:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"The ItemBatcher field {field} must be a positive integer, got: {json.dumps(value)}")
        return value
