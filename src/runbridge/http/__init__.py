"""The shared HTTP layer: one pooled client per profile, retries, error mapping, and one SSE reader.

Only this package and the backend adapters import `httpx2`.
"""

from .client import HttpClient
from .credentials import Secret, load_secret, write_token_file
from .errors import ErrorInfo, error_for_response, parse_error_body
from .paths import segment
from .retry import RETRY_STATUSES, RetryPolicy, parse_retry_after
from .sse import DEFAULT_MAX_EVENT_BYTES, SSEMessage, follow, iter_messages

__all__ = [
    "DEFAULT_MAX_EVENT_BYTES",
    "RETRY_STATUSES",
    "ErrorInfo",
    "HttpClient",
    "RetryPolicy",
    "SSEMessage",
    "Secret",
    "error_for_response",
    "follow",
    "iter_messages",
    "load_secret",
    "parse_error_body",
    "parse_retry_after",
    "segment",
    "write_token_file",
]
