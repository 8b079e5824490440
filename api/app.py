"""The FastAPI application: thin HTTP over the domain packages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import Depends, FastAPI

from api.deps import ApiKeyCache, reject_unknown_query_parameters
from api.problems import install_problem_handlers
from api.routes import applications, auctions, book, credits, log, netzero, registry, trading, verification
from registry.db import Database
from registry.ledger.identity import open_log_signer
from registry.ledger.log import SequencerThread
from registry.ledger.signing import LogSigner
from registry.migrate import upgrade_database
from registry.settings import Settings, get_settings
from verification.blobs import BlobStore
from web.app import install_web

DESCRIPTION = """
A regional carbon-inclusion (碳普惠) credit registry. Quantities are integer **kilograms of CO2e**
(1 credit = 1 tCO2e = 1,000 kg). Every credit movement is an entry in a signed, append-only
Merkle log (RFC 9162, C2SP checkpoints); anyone can verify a retirement offline from its proof
bundle and the key at `/api/v1/log/key`.

Authenticate with `Authorization: Bearer <api key>`. Public reads (projects, issuances,
retirements, proofs, the log) need no key. Errors are RFC 9457 problem details.
"""


def create_app(
    settings: Settings | None = None,
    db: Database | None = None,
    signer: LogSigner | None = None,
    migrate: bool = True,
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            upgrade_database(settings.database_url)
        to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        app.state.db = db or Database(settings.database_url, pool_size=settings.api_threads + 2)
        app.state.api_key_cache = ApiKeyCache()
        app.state.settings = settings
        app.state.blobs = BlobStore(settings.blob_dir)
        app.state.signer = signer or open_log_signer(app.state.db, settings.signing_key_file, settings.log_origin)
        sequencer = None
        if settings.run_sequencer:
            sequencer = SequencerThread(app.state.db, app.state.signer, settings.sequencer_interval_s,
                                        settings.sequencer_batch_size)
            sequencer.start()
        try:
            yield
        finally:
            if sequencer is not None:
                sequencer.stop()
            if db is None:
                app.state.db.dispose()

    # /docs and /redoc are pages of web/, served from vendored bundles rather than a CDN.
    app = FastAPI(title="Carbon Inclusion Registry", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  dependencies=[Depends(reject_unknown_query_parameters)], docs_url=None, redoc_url=None)
    install_problem_handlers(app)
    for module in (registry, verification, credits, log, applications, netzero, trading, book, auctions):
        app.include_router(module.router)
    install_web(app)
    return app


def create_served_app() -> FastAPI:
    """The app `cir serve` runs in each worker: `cir serve` has already migrated."""
    return create_app(migrate=False)
