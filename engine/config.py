"""Settings: environment variables prefixed USDTPAY_, plus an optional TOML file.

Top-level names that black-box checks rely on (`USDTPAY_DATABASE_URL`,
`USDTPAY_RATE_FIXED`) stay flat; everything else is grouped and set with a
double underscore, e.g. `USDTPAY_ORDERS__EXPIRE_MINUTES=15`.
"""

from __future__ import annotations

import ipaddress
from decimal import Decimal
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from engine.config_admin import AdminSettings

Chain = Literal["tron", "eth"]
Exchange = Literal["okx", "binance", "htx"]

TRON_USDT_CONTRACT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
ETH_USDT_CONTRACT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"


class OrderSettings(BaseModel):
    expire_minutes: int = Field(30, ge=1, le=7 * 24 * 60)
    late_window_minutes: int = Field(30, ge=0, le=7 * 24 * 60)
    # The USDT price is rounded up to this many decimals before the unique
    # fraction is added on top.
    base_decimals: int = Field(2, ge=0, le=5)
    offset_step_units: int = Field(1, ge=1)  # 0.000001 USDT
    offset_slots: int = Field(9999, ge=1, le=1_000_000)
    max_usdt_units: int = Field(1_000_000 * 10**6, ge=1)
    public_base_url: str = "http://127.0.0.1:8000"
    # Orders created by network alone (no key) are what an anonymous caller
    # can make at will; their payers' USDT picks may hold this many live
    # amounts per source (IPv4 address or IPv6 /64, api.ipv6_source_prefix) ...
    open_picks_per_source: int = Field(10, ge=0)
    # ... and together at most this share of offset_slots per chain, so a
    # flood of them always leaves amounts for the merchants' own orders.
    open_picks_share_percent: int = Field(50, ge=0, le=100)


class RateSettings(BaseModel):
    # Sources that a deployment picks: fixed, okx, binance, coingecko.
    sources: list[Literal["fixed", "okx", "binance", "coingecko"]] = ["okx", "binance", "coingecko"]
    fixed: Decimal | None = None
    multiply: Decimal = Decimal(1)
    add: Decimal = Decimal(0)
    max_age_seconds: int = Field(600, ge=1)
    # A refresh is stored only when this many sources answer within
    # agree_percent of their median (one source alone could be lying or
    # broken), and when that median moved at most max_move_percent from the
    # last one that is still fresh (a stale one protects nothing). A fixed
    # rate (USDTPAY_RATE_FIXED) needs no sources.
    min_sources: int = Field(2, ge=1)
    agree_percent: Decimal = Field(Decimal(2), gt=0)
    max_move_percent: Decimal = Field(Decimal(5), gt=0)
    refresh_seconds: int = Field(60, ge=1)
    timeout_seconds: float = 5.0
    okx_url: str = "https://www.okx.com/v3/c2c/tradingOrders/books"
    binance_url: str = "https://p2p.binance.com/bapi/c2c/v2/friendly/c2c/adv/search"
    coingecko_url: str = "https://api.coingecko.com/api/v3/simple/price"


class TronSettings(BaseModel):
    enabled: bool = False
    node_urls: list[str] = ["https://api.trongrid.io"]
    api_keys: list[SecretStr] = []
    usdt_contract: str = TRON_USDT_CONTRACT
    batch_blocks: int = Field(20, ge=1)
    poll_seconds: float = 3.0
    start_block: int | None = None
    timeout_seconds: float = 10.0
    concurrency: int = Field(8, ge=1, le=64)  # block-info requests in flight (TronGrid: ~15/s per key)
    # Read the head blocks above the solid head too (one more request per
    # block), so the cashier page shows "payment received, confirming" at once.
    track_unconfirmed: bool = True


class EthSettings(BaseModel):
    enabled: bool = False
    rpc_urls: list[str] = ["http://127.0.0.1:8545"]
    usdt_contract: str = ETH_USDT_CONTRACT
    confirmations: int = Field(12, ge=0)
    batch_blocks: int = Field(500, ge=1)
    poll_seconds: float = 12.0
    start_block: int | None = None
    timeout_seconds: float = 10.0
    # eth_getLogs topic lists are chunked so one filter stays small.
    addresses_per_filter: int = Field(100, ge=1)
    # Read the blocks under the confirmation depth too (one more eth_getLogs
    # per poll), so the cashier page shows "payment received, confirming" at once.
    track_unconfirmed: bool = True


class NotifySettings(BaseModel):
    # Hosts (or CIDR networks) merchants may target although they resolve to
    # loopback/private addresses; empty means public addresses only.
    allow_hosts: list[str] = []
    timeout_seconds: float = 3.0
    max_body_bytes: int = 64 * 1024
    batch_size: int = 50
    poll_seconds: float = 0.5
    # Sends in flight per notifier process: one slow merchant must not hold
    # up the others (the benchmarks ran with 16).
    workers: int = 16


class ApiSettings(BaseModel):
    # Networks allowed to call the unauthenticated merchant endpoints of the
    # cashier and dryad faces (and /metrics) without an API key. Loopback
    # only: behind a proxy in Docker or a load balancer in 10/8, the private
    # ranges hold the proxy, i.e. everyone on the internet.
    trusted_networks: list[str] = ["127.0.0.0/8", "::1/128"]
    # Reverse proxies (CIDR) whose forwarding header names the client; empty:
    # the direct peer is the client and forwarding headers are ignored (and
    # make the request untrusted). See README "Deploying behind a proxy".
    forwarded_allow_ips: list[str] = []
    # The one header those proxies write: nginx's $proxy_add_x_forwarded_for
    # (x-forwarded-for) or RFC 7239 (forwarded). The other is ignored.
    forwarded_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"
    # Verified requests per merchant, and per client on the unsigned faces.
    rate_limit_per_minute: int = Field(600, ge=1)
    # Requests with a bad signature or an unknown pid, per source address
    # (api.http.signed_limits): they never use a merchant's budget.
    failed_signatures_per_minute: int = Field(60, ge=1)
    # Every per-source budget (failed signatures, unsigned creates and reads,
    # live open picks, "I have paid", console sign-in) counts an IPv6 client
    # by its network of this prefix: one home line or VPS gets a whole /64,
    # so per address an attacker would have 2^64 budgets. IPv4: per address.
    ipv6_source_prefix: int = Field(64, ge=16, le=128)
    default_pid: str = "10001"
    logo_url: str = "/static/logo.svg"

    @model_validator(mode="after")
    def _networks_parse(self) -> ApiSettings:
        """A typo in a network list must stop startup, not silently trust less or more."""
        for name in ("trusted_networks", "forwarded_allow_ips"):
            for network in getattr(self, name):
                try:
                    ipaddress.ip_network(network, strict=False)
                except ValueError as exc:
                    raise ValueError(f"api.{name}: {network!r} is not a CIDR network") from exc
        return self


class CheckoutSettings(BaseModel):
    """The checkout face (seed 001): what the payment template shows.

    Templates are filled with `{amount}` (yuan, "10.00"), `{channel}` (e.g.
    支付宝), `{order_id}`, and, in the audio URL, `{content}` (URL-encoded).
    """

    audio_enabled: bool = False
    audio_content_template: str = "收款{amount}元,来自{channel}"
    audio_url_template: str = ""
    service_qq: str = ""
    pay_tip: str = ""
    payed_wait_seconds: int = Field(5, ge=0, le=3600)
    auto_open: bool = True


class WechatSettings(BaseModel):
    """WeChat Pay API v3 (direct merchant). Keys are PEM text or a path to a PEM file."""

    enabled: bool = False
    mchid: str = ""
    appid: str = ""
    # Other app ids (mini program, app) allowed in callbacks and JSAPI orders.
    extra_appids: list[str] = []
    merchant_serial_no: str = ""  # serial of the merchant API certificate
    merchant_private_key: SecretStr = SecretStr("")  # apiclient_key.pem
    apiv3_key: SecretStr = SecretStr("")  # 32 characters, set in the merchant platform
    # How responses and callbacks are verified: the platform public key
    # (newer merchants) or the platform certificates (older merchants).
    verify_mode: Literal["public_key", "certificate"] = "public_key"
    platform_public_key: str = ""
    platform_public_key_id: str = ""  # PUB_KEY_ID_...
    # Certificate mode: PEMs (or paths) trusted as they are. Optional: when
    # empty, the channel downloads the list from /v3/certificates at first use.
    platform_certificates: list[str] = []
    # Certificate mode: how often the certificate list is downloaded again.
    # WeChat lists a new certificate 24 h before signing with it, so 12 h
    # learns it in time from a list signed by one we already trust.
    certificate_refresh_seconds: int = Field(12 * 3600, ge=60)
    api_base_url: str = "https://api.mch.weixin.qq.com"
    notify_url: str = ""  # default: <orders.public_base_url>/notify/wechat
    timeout_seconds: float = Field(10.0, gt=0)
    timestamp_tolerance_seconds: int = Field(300, ge=1)
    h5_type: Literal["Wap", "iOS", "Android"] = "Wap"


class AlipaySettings(BaseModel):
    """Alipay OpenAPI with RSA2 keys, in public-key mode or public-key-certificate
    mode (公钥证书模式), whichever the app is set to on the open platform."""

    enabled: bool = False
    app_id: str = ""
    seller_id: str = ""  # the 2088... partner id; checked in notifications when set
    app_private_key: SecretStr = SecretStr("")  # PEM text, a path, or bare base64
    key_mode: Literal["public_key", "certificate"] = "public_key"
    alipay_public_key: str = ""  # public-key mode: PEM text, a path, or bare base64
    # Certificate mode: PEM text or a path to the files the open platform issues.
    app_cert: str = ""  # appCertPublicKey_<app_id>.crt
    alipay_cert: str = ""  # alipayCertPublicKey_RSA2.crt
    alipay_root_cert: str = ""  # alipayRootCert.crt (several certificates)
    gateway_url: str = "https://openapi.alipay.com/gateway.do"
    notify_url: str = ""  # default: <orders.public_base_url>/notify/alipay
    return_url: str = ""
    timeout_seconds: float = Field(10.0, gt=0)


class QuickPaySettings(BaseModel):
    """QuickPay (Lianke). Its public document does not say how requests are
    authenticated; `md5` is the common sorted-parameter MD5 with the store key."""

    enabled: bool = False
    store_no: str = ""
    store_key: SecretStr = SecretStr("")
    auth_scheme: Literal["md5", "none"] = "md5"
    sign_field: str = "sign"
    # Source networks (CIDR) allowed to post /notify/quickpay; empty = any
    # source (md5 callbacks carry a signature). Required with auth_scheme
    # "none": an unsigned callback is then only a hint that the bridge
    # confirms with QuickPay/Query before anything changes.
    callback_networks: list[str] = []
    api_base_url: str = "https://www.liankeonline.com"
    default_paytype: Literal[11, 21] = 11
    operator: str = "WEB"
    notify_url: str = ""  # default: <orders.public_base_url>/notify/quickpay
    timeout_seconds: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _callbacks_authenticated(self) -> QuickPaySettings:
        """No setting may let an unverified callback in from anywhere."""
        for network in self.callback_networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"quickpay.callback_networks: {network!r} is not a CIDR network") from exc
        if self.enabled and self.auth_scheme == "none" and not self.callback_networks:
            raise ValueError(
                "quickpay.auth_scheme 'none' leaves /notify/quickpay unauthenticated: set "
                "USDTPAY_QUICKPAY__CALLBACK_NETWORKS to the gateway's source networks (JSON list of CIDR)"
            )
        return self


class FiatSettings(BaseModel):
    """The query step that recovers lost channel callbacks."""

    query_poll_seconds: float = Field(30.0, gt=0)
    query_min_age_seconds: int = Field(60, ge=0)  # let the callback come first
    query_interval_seconds: int = Field(60, ge=1)  # per payment
    close_grace_seconds: int = Field(120, ge=0)  # after order expiry, then close
    batch_size: int = Field(50, ge=1)


class EpaySettings(BaseModel):
    """The epay face (EPay V1, for shop software; README "EPay-compatible shops")."""

    # How the merchant key is appended when signing: `plain` (md5(k=v&...KEY),
    # the EPay SDK), `key` (md5(k=v&...&key=KEY), some clones), or `either`
    # (accept both; answer in the mode the request used).
    sign_mode: Literal["plain", "key", "either"] = "plain"
    # What an order with an empty or unknown `type` offers at the cashier.
    cashier_choices: list[Literal["alipay", "wxpay", "usdt.trc20", "usdt.erc20"]] = [
        "alipay",
        "wxpay",
        "usdt.trc20",
        "usdt.erc20",
    ]
    # The chain for `type=usdt` (no network named); `pick` lets the payer choose.
    usdt_chain: Literal["tron", "eth", "pick"] = "tron"


class OpsSettings(BaseModel):
    """Operators' thresholds (/api/health, `usdtpay status`, /metrics) and
    the reconciliation's patience with a failing node."""

    # A watcher is degraded when its lag passes either threshold.
    lag_seconds_degraded: int = Field(300, ge=1)
    lag_blocks_degraded: dict[str, int] = {"tron": 100, "eth": 25}
    # Default: the rate's own max age (rate.max_age_seconds).
    rate_age_degraded_seconds: int | None = Field(None, ge=1)
    notify_oldest_due_degraded_seconds: int = Field(600, ge=1)
    reconcile_attempts: int = Field(3, ge=1)
    reconcile_retry_seconds: float = Field(1.0, ge=0)
    # GET /metrics answers callers in api.trusted_networks only, unless open.
    metrics_open: bool = False


class ExchangeSettings(BaseModel):
    """Exchange receiving accounts (seed 004 type 2; README "Exchange transfers").

    Accounts and their keys live in the database (`usdtpay exchange add`);
    these settings say which watchers run and how they page the history."""

    # The exchanges whose watchers `usdtpay run` starts (each watches every
    # enabled account of that exchange).
    enabled: list[Exchange] = []
    poll_seconds: float = Field(10.0, gt=0)
    # Every poll re-reads this much before the cursor: an exchange may list a
    # record a little after its own timestamp. Ids de-duplicate the overlap.
    overlap_minutes: int = Field(10, ge=1, le=24 * 60)
    # A catch-up after downtime reads at most this much history per step.
    step_window_minutes: int = Field(360, ge=1)
    # ... and never further back than this (OKX keeps ~3 months, Binance
    # windows are < 90 days); older gaps need a supplement.
    max_lookback_days: int = Field(30, ge=1, le=89)
    # A record not final yet is re-read until it is, for at most this long.
    pending_hours: int = Field(24, ge=1, le=24 * 30)
    # Share of each documented request budget usdtpay uses (the rest is left
    # to the key owner's other tools).
    budget_share: float = Field(0.5, gt=0, le=1)
    timeout_seconds: float = Field(10.0, gt=0)
    okx_url: str = "https://www.okx.com"
    binance_url: str = "https://api.binance.com"
    htx_url: str = "https://api.huobi.pro"
    binance_sources: list[Literal["deposit", "pay"]] = ["deposit", "pay"]
    # Seals stored API secrets (AES-256-GCM); any text, e.g. `openssl rand -hex 32`.
    # Empty: secrets are stored as given (the database is then as secret as the keys).
    secrets_key: SecretStr = SecretStr("")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="USDTPAY_", env_nested_delimiter="__", extra="ignore")
    config_file: ClassVar[Path | None] = None

    database_url: str = "sqlite+aiosqlite:///var/usdtpay.db"
    rate_fixed: Decimal | None = None
    log_level: str = "INFO"
    log_json: bool = True
    # Seals merchants' signing keys in the database (AES-256-GCM; any text,
    # e.g. `openssl rand -hex 32`); empty: stored plain. Keys stored before
    # it was set still open; set it before adding merchants (README "Security model").
    merchant_keys_secret: SecretStr = SecretStr("")
    timezone: str = "Asia/Shanghai"
    orders: OrderSettings = OrderSettings()
    rate: RateSettings = RateSettings()
    tron: TronSettings = TronSettings()
    eth: EthSettings = EthSettings()
    notify: NotifySettings = NotifySettings()
    api: ApiSettings = ApiSettings()
    admin: AdminSettings = AdminSettings()
    checkout: CheckoutSettings = CheckoutSettings()
    wechat: WechatSettings = WechatSettings()
    alipay: AlipaySettings = AlipaySettings()
    quickpay: QuickPaySettings = QuickPaySettings()
    fiat: FiatSettings = FiatSettings()
    ops: OpsSettings = OpsSettings()
    epay: EpaySettings = EpaySettings()
    exchanges: ExchangeSettings = ExchangeSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls.config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.config_file))
        return tuple(sources)

    def effective_rate_fixed(self) -> Decimal | None:
        return self.rate_fixed if self.rate_fixed is not None else self.rate.fixed


def load_settings(config_file: str | Path | None = None) -> Settings:
    """Build settings from the environment and, when given, a TOML file.

    Environment variables win over the file so one deployment file can be
    overridden per process.
    """
    Settings.config_file = Path(config_file) if config_file else None
    return Settings()
