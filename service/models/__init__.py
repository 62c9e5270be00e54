"""All models; import from here."""

from .base import Base, utcnow
from .org import Agency, Category, DeadlinePolicy, Holiday, RoutingRule, Setting, User
from .ticket import (
    Attachment,
    Citizen,
    CitizenContact,
    Delivery,
    InboundMessage,
    Ticket,
    TicketEvent,
)

__all__ = [
    "Agency",
    "Attachment",
    "Base",
    "Category",
    "Citizen",
    "CitizenContact",
    "DeadlinePolicy",
    "Delivery",
    "Holiday",
    "InboundMessage",
    "RoutingRule",
    "Setting",
    "Ticket",
    "TicketEvent",
    "User",
    "utcnow",
]
