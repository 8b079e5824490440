"""The trail: every workflow step as a `WorkflowEvent` naming who did it."""

from __future__ import annotations

from sqlmodel import Session

from registry.models import Party, pk
from verification.models import WorkflowEvent


def record_event(session: Session, subject: str, actor: Party, action: str, from_status: str | None = None,
                 to_status: str | None = None, note: str = "") -> None:
    session.add(WorkflowEvent(subject=subject, actor_party_id=pk(actor), action=action,
                              from_status=from_status, to_status=to_status, note=note))
