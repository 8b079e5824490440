"""The one settings object. Every value can be set with a `CIR_`-prefixed environment variable."""

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CIR_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/registry.db"
    # The registry's Ed25519 signing key (PKCS#8 PEM). Generated on first start when missing.
    signing_key_file: Path = Path("var/registry-signing-key.pem")
    # The checkpoint origin line and the signed-note key name (C2SP tlog-checkpoint).
    log_origin: str = "carbon-inclusion-registry.example/log"
    # How often the sequencer looks for new entries; bounds the time from write to signed checkpoint.
    sequencer_interval_s: float = 0.25
    sequencer_batch_size: int = 5000
    # Run the sequencer inside the API process. Turn off when a separate `cir sequencer` runs.
    run_sequencer: bool = True
    # Threads per API worker process for database work, and as many pooled connections. Few
    # threads beat many: they spend their time waiting on the database or on the GIL.
    api_threads: int = 8
    # Uploaded monitoring data and documents, stored by SHA-256 of their content.
    blob_dir: Path = Path("var/blobs")
    max_upload_bytes: int = 256 * 1024 * 1024
    # When true, a verified report waits for the registrar's approval before credits are issued.
    issuance_needs_registrar_approval: bool = False
    # Market fees, per side, in basis points of a trade's amount; they go to the market's fee account.
    market_fee_buyer_bp: int = 0
    market_fee_seller_bp: int = 0
    # Bilateral trades are refused outside this band (per cent) around the reference price: the
    # volume-weighted average of the last trading day of the same methodology, if any.
    bilateral_band_pct: int = 30
    # How long a net-zero certificate is valid from its issue date (the certified example: one year).
    certificate_validity_months: int = 12
    # Where the registry's pages are published (https://registry.example): the certificate PDF's QR
    # code points there. Unset, the address the request came to is used.
    public_base_url: str | None = None
    # The market's test clock: when set (an ISO date-time with its offset), trading sessions, trading
    # days and the expiry of day orders read this time instead of the real one. For tests and rehearsals.
    market_clock: datetime | None = None

    def market_now(self) -> datetime:
        return self.market_clock or datetime.now(UTC)


@lru_cache
def get_settings() -> Settings:
    return Settings()
