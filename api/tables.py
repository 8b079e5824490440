"""Every table of every package, imported once so that `SQLModel.metadata` is complete.

Alembic (`migrations/env.py`) compares the schema against it, and the tests empty the database
through it. A package that adds a `models.py` adds one line here.
"""

from sqlmodel import SQLModel

import api.idempotency
import netzero.models
import registry.ledger.models
import registry.models
import trading.models
import verification.models
import web.models

MODULES = (registry.models, registry.ledger.models, verification.models, netzero.models, trading.models,
           api.idempotency, web.models)
METADATA = SQLModel.metadata
