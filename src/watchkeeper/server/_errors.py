"""The one error a request can fail with: an HTTP status, a bounded reason, the field, a message.

Every way a request can be wrong maps to a :class:`RequestError`; the app turns it into a 4xx
JSON body ``{"error": message, "reason": reason, "field": field}`` and counts it by reason
(and by field, when the field is one of the model's inputs) in the metrics and the
rejected-requests table. Reasons are a small fixed set so that they can be Prometheus labels.
"""

from __future__ import annotations

from typing import Any

__all__ = ["REASONS", "RequestError"]

#: Every ``reason`` a :class:`RequestError` may carry, with the status it is sent with.
REASONS: dict[str, int] = {
    "malformed": 400,  # not JSON / not CSV, or not the shape the format needs
    "unsupported_format": 400,  # valid JSON but none of the accepted request formats
    "shape_mismatch": 400,  # inputs of different lengths, shape not matching data
    "empty": 400,  # no rows
    "unauthorized": 401,  # missing or wrong bearer token
    "not_found": 404,  # unknown model or version
    "not_ready": 503,  # the version could not be loaded
    "too_large": 413,  # body above serve.max_body_bytes
    "too_many_rows": 413,  # rows above serve.max_rows
    "unsupported_media_type": 415,  # a content type the endpoint does not read
    "missing_column": 422,  # an input the model needs is absent
    "extra_column": 422,  # a column the model does not know
    "wrong_type": 422,  # a value of the wrong type for its column
    "null_value": 422,  # null/NaN in a column that is not nullable
    "non_finite": 422,  # inf or -inf
    "invalid_parameter": 422,  # a request parameter (event time, id column...) is invalid
    "conflict": 409,  # a label contradicting the stored one
    "overloaded": 503,  # the log writer's queue is full
    "model_error": 422,  # the model raised on rows that passed validation (an unknown category...)
    "client_closed": 499,  # the client disconnected before sending the whole body
}


class RequestError(Exception):
    """A request that cannot be served as sent.

    Parameters
    ----------
    reason
        One of :data:`REASONS`; it decides the HTTP status unless ``status`` is given.
    message
        What was wrong and what was expected, for a person (names the field).
    field
        The column, input or JSON path at fault, or None.
    """

    def __init__(
        self, reason: str, message: str, *, field: str | None = None, status: int | None = None
    ) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown request-error reason {reason!r}")
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.field = field
        self.status = status if status is not None else REASONS[reason]

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.message, "reason": self.reason, "field": self.field}
