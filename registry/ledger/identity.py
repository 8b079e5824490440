"""Which key signs this registry's log, recorded once and checked at every start."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from registry.db import Database
from registry.ledger.log import latest_checkpoint
from registry.ledger.models import LogIdentity
from registry.ledger.signing import LogSigner, load_signer
from registry.ledger.verify import VerificationError, parse_verifier_key, verify_checkpoint


class LogIdentityMismatch(Exception):
    """The key file, or the database, is not the registry it claims to be: refuse to start."""


def log_identity(session: Session) -> LogIdentity | None:
    return session.execute(select(LogIdentity)).scalar_one_or_none()


def record_log_identity(session: Session, signer: LogSigner) -> LogIdentity:
    """At bootstrap: this database's log is signed by this key under this origin, for good."""
    existing = log_identity(session)
    if existing is not None:
        raise LogIdentityMismatch(f"this registry's log is already {existing.verifier_key}")
    identity = LogIdentity(origin=signer.name, key_id=signer.key_id.hex(), verifier_key=signer.verifier_key)
    session.add(identity)
    session.flush()
    return identity


def open_log_signer(db: Database, key_file: Path, origin: str) -> LogSigner:
    """The signer for this database's log, from the key file, checked against the recorded
    identity. Never creates a key. A registry that predates the record adopts the key file
    only if its latest checkpoint verifies with it; a bare database must be bootstrapped."""
    with db.read() as session:
        identity = log_identity(session)
        checkpoint = latest_checkpoint(session)
    if identity is not None:
        signer = load_signer(identity.origin, key_file)
        if signer.verifier_key != identity.verifier_key:
            raise LogIdentityMismatch(
                f"{key_file} holds the key {signer.verifier_key}, but this registry's log is signed by "
                f"{identity.verifier_key}: restore the registry's own key file (or point CIR_SIGNING_KEY_FILE at it)")
        return signer
    if checkpoint is None:
        raise LogIdentityMismatch(
            "this database has no registry yet: `cir bootstrap` (or `cir demo`) makes its log key and registrar")
    signer = load_signer(origin, key_file)
    try:
        verify_checkpoint(checkpoint.note, parse_verifier_key(signer.verifier_key))
    except VerificationError as exc:
        raise LogIdentityMismatch(f"{key_file} does not sign this registry's checkpoints ({exc})") from exc
    with db.write() as session:
        record_log_identity(session, signer)
    return signer
