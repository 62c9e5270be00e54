"""All models; import from here."""

from .audit import AuditEntry
from .base import Base, utcnow
from .console import (
    AssignmentPolicy,
    ResponseTemplate,
    TicketFollower,
    TicketReferral,
    TicketSearch,
    TicketSplit,
)
from .conversation import Conversation
from .mail import EmailReceipt, InboundEmail
from .org import Agency, Category, DeadlinePolicy, Holiday, RoutingRule, Setting, User
from .report import Report, RollupRow, RollupState, RollupTicket
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
    "AuditEntry",
    "Agency",
    "Attachment",
    "Base",
    "Category",
    "Citizen",
    "CitizenContact",
    "DeadlinePolicy",
    "Delivery",
    "EmailReceipt",
    "Holiday",
    "InboundEmail",
    "InboundMessage",
    "Report",
    "RollupRow",
    "RollupState",
    "RollupTicket",
    "RoutingRule",
    "Setting",
    "Ticket",
    "TicketEvent",
    "User",
    "utcnow",
    "AssignmentPolicy",
    "ResponseTemplate",
    "TicketFollower",
    "TicketReferral",
    "TicketSearch",
    "TicketSplit",
    "Conversation",
]
