"""One module per channel; importing this package registers them all."""

from . import (
    email,  # noqa: F401  (registers)
    telegram,  # noqa: F401  (registers)
    zalo_bot,  # noqa: F401  (registers)
    zalo_oa,  # noqa: F401  (registers)
)
from .base import (
    Channel,
    OutboundMessage,
    PermanentError,
    TransientError,
    WebhookResponse,
    by_webhook_path,
    enabled_names,
    get,
    registered,
)

__all__ = [
    "Channel",
    "OutboundMessage",
    "PermanentError",
    "TransientError",
    "WebhookResponse",
    "by_webhook_path",
    "enabled_names",
    "get",
    "registered",
]
