"""Settings from the environment (prefix ``RECTIFY_``)."""

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RECTIFY_", extra="ignore")

    database_url: str = "sqlite:///./rectify.db"
    bootstrap_admin_token: str | None = None
    timezone: str = "Asia/Shanghai"
    workflows_dir: Path = REPO_ROOT / "workflows"
    evidence_dir: Path = Path("./evidence")
    max_upload_mb: int = 20
    webhook_allowed_networks: str = ""
    test_clock: bool = False
    scan_interval_s: float = 30.0
    delivery_retry_schedule_s: str = "5,30,300,1800,7200,18000,36000"
    delivery_lease_s: float = Field(default=60.0, ge=20.0)
    """How long a claimed delivery is reserved for its worker; a worker that dies
    mid-send delays its deliveries by this much. At least the 15 s send timeout plus
    margin, so a live worker's send is never duplicated by another."""
    auto_migrate: bool = True
    log_json: bool = False
    log_level: str = "INFO"
    cors_origins: str = ""
    """Comma-separated origins whose scripts may call the API (``https://app.example.gov``)."""
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_role_claim: str = "rectify_role"
    oidc_unit_claim: str = "rectify_unit"
    oidc_name_claim: str = "name"
    oidc_leeway_s: float = Field(default=60.0, ge=0.0)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def cors_origin_list(self) -> frozenset[str]:
        return frozenset(o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip())

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


@lru_cache
def get_settings() -> Settings:
    return Settings()
