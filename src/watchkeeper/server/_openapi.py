"""JSON Schemas of the request and response bodies, for an accurate ``/openapi.json``.

The scoring routes read their bodies themselves (several formats, CSV, streaming size limits),
so FastAPI cannot derive their schemas; these describe what the decoders accept and what the
encoders return, and the schemathesis test generates requests from them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ERROR", "body", "responses"]

_SCALAR: dict[str, Any] = {"type": ["number", "string", "boolean", "null"]}
_ROW: dict[str, Any] = {"type": "object", "additionalProperties": _SCALAR}
_COLUMNS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {"type": "array", "items": _SCALAR},
}

ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error", "reason"],
    "properties": {
        "error": {"type": "string", "description": "What was wrong, naming the field."},
        "reason": {"type": "string", "description": "A fixed word (metrics label)."},
        "field": {"type": ["string", "null"]},
    },
}

OIP_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string", "maxLength": 128},
        "parameters": {"type": "object"},
        "inputs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "shape", "datatype", "data"],
                "properties": {
                    "name": {"type": "string"},
                    "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                    "datatype": {
                        "type": "string",
                        "enum": [
                            "BOOL",
                            "UINT8",
                            "UINT16",
                            "UINT32",
                            "UINT64",
                            "INT8",
                            "INT16",
                            "INT32",
                            "INT64",
                            "FP16",
                            "FP32",
                            "FP64",
                            "BYTES",
                        ],
                    },
                    "parameters": {"type": "object"},
                    "data": {"type": "array"},
                },
            },
        },
        "outputs": {"type": "array", "items": {"type": "object"}},
    },
}

OIP_RESPONSE: dict[str, Any] = {
    "type": "object",
    "required": ["model_name", "id", "outputs"],
    "properties": {
        "model_name": {"type": "string"},
        "model_version": {"type": "string"},
        "id": {"type": "string"},
        "parameters": {"type": "object"},
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "shape", "datatype", "data"],
                "properties": {
                    "name": {"type": "string"},
                    "shape": {"type": "array", "items": {"type": "integer"}},
                    "datatype": {"type": "string"},
                    "data": {"type": "array"},
                },
            },
        },
    },
}

INVOCATIONS_REQUEST: dict[str, Any] = {
    "type": "object",
    "description": "Exactly one of dataframe_split, dataframe_records, instances, inputs.",
    "oneOf": [
        {
            "required": ["dataframe_split"],
            "properties": {
                "dataframe_split": {
                    "type": "object",
                    "required": ["columns", "data"],
                    "properties": {
                        "columns": {"type": "array", "items": {"type": "string"}},
                        "data": {"type": "array", "items": {"type": "array", "items": _SCALAR}},
                    },
                },
                "params": {"type": "object"},
            },
        },
        {
            "required": ["dataframe_records"],
            "properties": {
                "dataframe_records": {"type": "array", "items": _ROW},
                "params": {"type": "object"},
            },
        },
        {
            "required": ["instances"],
            "properties": {
                "instances": {"oneOf": [{"type": "array", "items": _ROW}, _COLUMNS]},
                "params": {"type": "object"},
            },
        },
        {
            "required": ["inputs"],
            "properties": {
                "inputs": {"oneOf": [_COLUMNS, {"type": "array", "items": _ROW}]},
                "params": {"type": "object"},
            },
        },
    ],
}

SCORING_RESPONSE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "predictions": {"type": "array"},
        "outputs": {"type": "array"},
        "probabilities": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
        "request_id": {"type": "string"},
        "model_version": {"type": "integer"},
        "ids": {"type": "array"},
    },
}

TF_REQUEST: dict[str, Any] = {
    "type": "object",
    "oneOf": [
        {"required": ["instances"], "properties": {"instances": {"type": "array", "items": _ROW}}},
        {
            "required": ["inputs"],
            "properties": {"inputs": {"oneOf": [_COLUMNS, {"type": "array", "items": _ROW}]}},
        },
    ],
}

LABELS_REQUEST: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["id", "label"],
        "properties": {
            "id": {"type": ["string", "integer"], "description": "request id, or id-column value"},
            "row": {"type": "integer", "minimum": 0},
            "label": _SCALAR,
        },
    },
}

LABELS_RESPONSE: dict[str, Any] = {
    "type": "object",
    "required": ["stored", "unchanged", "unknown"],
    "properties": {
        "stored": {"type": "integer"},
        "unchanged": {"type": "integer"},
        "unknown": {"type": "array"},
    },
}


def body(schema: dict[str, Any], *, csv: bool = False) -> dict[str, Any]:
    """``openapi_extra`` declaring a required request body with ``schema``."""
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    return {"requestBody": {"required": True, "content": content}}


def responses(ok: dict[str, Any] | None, *codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented responses: 200 with ``ok`` (any JSON if None) and errors for ``codes``."""
    out: dict[int | str, dict[str, Any]] = {
        200: {"description": "OK", "content": {"application/json": {"schema": ok or {}}}}
    }
    for code in codes:
        out[code] = {
            "description": _DESCRIPTIONS.get(code, "Error"),
            "content": {"application/json": {"schema": ERROR}},
        }
    return out


_DESCRIPTIONS = {
    400: "Malformed body or unsupported format",
    401: "Missing or wrong bearer token",
    403: "Admin endpoints are disabled (WATCHKEEPER_ADMIN_TOKEN is not set)",
    404: "Unknown model or version",
    409: "Conflict (request id logged before, contradicting label, refused move)",
    413: "Body or row count above the configured maximum",
    415: "Unsupported content type",
    422: "The rows do not match the model's input schema, or a parameter is invalid",
    503: "The model is not ready, or the log is not keeping up",
}
