"""The kiosk's configuration: pydantic models loaded from one TOML file.

``load_config(path)`` returns a validated ``Config`` or raises ``ConfigError`` with one
message naming the file, the key and the problem. Relative paths resolve against the
config file's folder. Secrets are never in the file itself: backends name an environment
variable or a file that holds the token, and the lead PIN is stored as a salted hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from devices.ports import parse_vid_pid
from kiosk.connectors.base import BackendConfig
from kiosk.connectors.registry import installed, plugin_for
from kiosk.gs1_ai import is_known_ai
from kiosk.patterns import PatternError, compile_pattern
from kiosk.tomlfile import read_toml

TERMINATORS = {"\r": b"\r", "\n": b"\n", "\r\n": b"\r\n", "\t": b"\t", "etx": b"\x03", "stx-etx": b"\x03", "none": b""}


class ConfigError(Exception):
    """A config that cannot be used. ``str()`` is the whole message for the user."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _check_pattern(value: str | None, *, badge: bool = False) -> str | None:
    """A scan pattern the station can run in linear time (``kiosk.patterns``); a badge pattern
    must not match every scan (then no job could ever be scanned)."""
    if value is None:
        return None
    try:
        pattern = compile_pattern(value)
    except PatternError as exc:
        raise ValueError(str(exc)) from None
    if badge and pattern.matches_everything:
        raise ValueError(f"{value!r} matches every scan, so every scan would be a badge: anchor it, e.g. ^OP\\d+$")
    return value


def _check_path(value: Path) -> Path:
    if "\x00" in str(value) or str(value) in ("", "."):
        raise ValueError("must be a file path (no NUL characters)")
    return value


JobPattern = Annotated[str, AfterValidator(_check_pattern)]
FilePath = Annotated[Path, AfterValidator(_check_path)]

_ASCII_SAMPLE = b"0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz -./:+%$"
MAX_RETENTION_DAYS = 36500
BAUDRATE_MAX = 4_000_000
"""The highest standard rate Linux offers (B4000000); no barcode scanner goes near it."""


class KioskSection(_Model):
    profile: str
    """Profile active at the first start; afterwards the last profile a lead chose wins."""
    journal: FilePath = Path("kiosk-journal.sqlite3")
    """SQLite journal of every scan; relative paths resolve against the config file's folder."""
    journal_retention_days: float = Field(default=90, gt=0, le=MAX_RETENTION_DAYS)
    """Journal rows older than this are pruned at start (at most 100 years)."""
    allow_quit: bool = False
    """When true, ctrl+q quits without lead authority (development machines only)."""
    bell: bool = True
    """Ring the terminal bell for feedback when no sound command is configured."""
    title: str = "kiosk"


class SoundsConfig(_Model):
    """A shell-free command per event (split like a shell would), e.g. "aplay /opt/error.wav"."""

    ok: str | None = None
    rejected: str | None = None
    duplicate: str | None = None
    operator: str | None = None
    error: str | None = None


class ProfileConfig(_Model):
    name: str = Field(min_length=1)
    backend: str
    station: str
    """Station code, case-sensitive; one URL path segment, so never "", "." or ".."."""
    action: str = Field("checkin", min_length=1)
    """What a job scan does at this station: one of the actions of the backend's connector."""
    params: dict[str, str | int | float | bool] = {}
    """Action parameters sent with every request (e.g. a warehouse or a substrate)."""
    description: str | None = None
    """Shown under the station code; the vendor's description replaces it after a check-in."""
    operator_pattern: str | None = None
    """A scan matching this regex is an operator badge."""
    command_prefix: str = Field("CMD:", min_length=1)
    job_patterns: list[JobPattern] | None = None
    """Job identifier patterns; omitted means every other scan is a job identifier."""
    requires_operator: bool = False
    operator_idle_logout_s: float = Field(900, gt=0)
    operator_wait_s: float = Field(30, ge=0)
    duplicate_window_s: float = Field(3, ge=0)
    ack_barcode: str | None = None
    """A barcode that acknowledges an error screen, besides Enter, Escape and CMD:ACK."""
    allow_manual: bool = True
    """When false, typed (not scanned) entries are refused."""
    offline: Literal["queue", "reject"] = "queue"
    on_unknown: Literal["resend", "park"] = "resend"
    sounds: SoundsConfig = SoundsConfig()
    gs1: bool = False
    """Read every job scan as a GS1 barcode (GTIN, batch, expiry, serial ...): a bad check digit,
    an expired product or a scan that is not GS1 is refused at the station, nothing is sent."""
    identifier_ai: str | None = None
    """With gs1: the Application Identifier whose value is sent (e.g. "21", the serial); unset
    sends the whole scanned text."""
    plain_patterns: list[JobPattern] | None = None
    """With gs1: job scans matching one of these regexes are sent as scanned, not read as GS1
    (e.g. a dock's loading references, ["^LD-"])."""

    @field_validator("operator_pattern")
    @classmethod
    def _operator_pattern(cls, value: str | None) -> str | None:
        return _check_pattern(value, badge=True)

    @field_validator("station")
    @classmethod
    def _station(cls, value: str) -> str:
        if value in ("", ".", ".."):
            shown = "an empty station code" if value == "" else f"station code {value!r}"
            raise ValueError(f"{shown} cannot be a URL path segment: give the station's code as the vendor spells it")
        return value

    @field_validator("job_patterns")
    @classmethod
    def _patterns(cls, value: list[str] | None) -> list[str] | None:
        if value == []:
            raise ValueError("an empty list matches no scan, so no job could be scanned: "
                             "give at least one pattern, or leave the key out to take every other scan as a job")
        return value

    @field_validator("identifier_ai")
    @classmethod
    def _identifier_ai(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        _needs_gs1(info)
        if not is_known_ai(value):
            raise ValueError(f"{value!r} is not a GS1 Application Identifier (e.g. \"01\" GTIN, \"21\" serial)")
        return value

    @field_validator("plain_patterns")
    @classmethod
    def _plain_patterns(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if value is not None:
            _needs_gs1(info)
        return value


def _needs_gs1(info: ValidationInfo) -> None:
    if not info.data.get("gs1"):
        raise ValueError("only means something with gs1 = true (job scans read as GS1 barcodes)")


class LeadConfig(_Model):
    pin_hash: str | None = None
    """Salted scrypt hash from `kiosk hash-pin`; never the PIN itself."""
    pin_hash_env: str | None = None
    """Environment variable holding the hash instead (keeps it out of the file)."""
    badge_pattern: str | None = None
    idle_s: float = Field(default=120, gt=0)
    """Lead authority lapses after this many idle seconds."""

    @field_validator("badge_pattern")
    @classmethod
    def _badge_pattern(cls, value: str | None) -> str | None:
        return _check_pattern(value, badge=True)

    @field_validator("pin_hash")
    @classmethod
    def _hash_format(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("scrypt$"):
            raise ValueError("must be a hash printed by `kiosk hash-pin` (starts with scrypt$)")
        return value


class ScannerConfig(_Model):
    name: str = Field(min_length=1)
    kind: Literal["stdin", "serial", "hid"]
    # serial
    port: str | None = None
    """Device path or /dev/serial/by-id/... link."""
    vid_pid: str | None = None
    """USB "VID:PID" in hex (e.g. "0c2e:0b61"); with serial_number to pick one of several."""
    serial_number: str | None = None
    baudrate: int = Field(default=9600, ge=50, le=BAUDRATE_MAX)
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    bytesize: Literal[5, 6, 7, 8] = 8
    stopbits: float = 1
    """1, 1.5 or 2."""
    # framing
    terminator: str = "\r"
    """"\\r", "\\n", "\\r\\n", "\\t", "etx", "stx-etx", or "none" (idle gap ends a frame)."""
    idle_gap_ms: float = Field(50, gt=0)
    prefix: str = ""
    suffix: str = ""
    encoding: str = "utf-8"
    max_length: int = Field(256, gt=0)
    # hid (evdev)
    device: str | None = None
    """HID: device path, or a name glob such as "*Honeywell*"."""
    layout: Literal["us", "de", "fr"] = "us"
    grab: bool = True

    @field_validator("terminator")
    @classmethod
    def _terminator(cls, value: str) -> str:
        if value not in TERMINATORS:
            raise ValueError('must be one of "\\r", "\\n", "\\r\\n", "\\t", "etx", "stx-etx", "none"')
        return value

    @field_validator("stopbits")
    @classmethod
    def _stopbits(cls, value: float) -> float:
        if value not in (1, 1.5, 2):
            raise ValueError("must be 1, 1.5 or 2")
        return value

    @field_validator("vid_pid")
    @classmethod
    def _vid_pid(cls, value: str | None) -> str | None:
        if value is not None:
            parse_vid_pid(value)  # ValueError says what is wrong
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        import codecs

        try:
            info = codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r}") from None
        if not getattr(info, "_is_text_encoding", True):
            raise ValueError(f"{value!r} is not a text encoding (it turns bytes into bytes); use e.g. utf-8 or latin-1")
        try:
            readable = _ASCII_SAMPLE.decode(value) == _ASCII_SAMPLE.decode("ascii")
        except (UnicodeError, LookupError):
            readable = False
        if not readable:
            raise ValueError(f"{value!r} does not read plain digits and letters as themselves, so no barcode "
                             "could be read; use e.g. utf-8, latin-1 or cp1252")
        return value

    @model_validator(mode="after")
    def _needs(self) -> "ScannerConfig":
        if self.kind == "serial" and not (self.port or self.vid_pid):
            raise ValueError("a serial scanner needs port or vid_pid")
        if self.kind == "hid" and not (self.device or self.vid_pid):
            raise ValueError("a hid scanner needs device or vid_pid")
        return self


class Config(_Model):
    kiosk: KioskSection
    backends: dict[str, BackendConfig]
    profiles: list[ProfileConfig] = Field(min_length=1)
    scanners: list[ScannerConfig] = []
    lead: LeadConfig = LeadConfig()
    path: Path = Path("kiosk.toml")
    """Where this config was read from (set by load_config, not written in the file)."""

    @model_validator(mode="after")
    def _references(self) -> "Config":
        names = [p.name for p in self.profiles]
        for i, profile in enumerate(self.profiles):
            if names.count(profile.name) > 1:
                raise _KeyError(f"profiles[{i}].name", f"profile name {profile.name!r} is used twice")
            if profile.backend not in self.backends:
                known = ", ".join(sorted(self.backends)) or "none"
                raise _KeyError(f"profiles[{i}].backend", f"unknown backend {profile.backend!r} (known: {known})")
            vendor = self.backends[profile.backend].vendor
            try:
                actions = plugin_for(vendor).actions
            except KeyError as exc:
                raise _KeyError(f"backends.{profile.backend}.vendor", exc.args[0]) from None
            if profile.action not in actions:
                raise _KeyError(f"profiles[{i}].action", f"the {vendor} connector has no action {profile.action!r} "
                                f"(it has: {', '.join(sorted(actions))})")
        if self.kiosk.profile not in names:
            raise _KeyError("kiosk.profile", f"unknown profile {self.kiosk.profile!r} (known: {', '.join(names)})")
        scanner_names = [s.name for s in self.scanners]
        for i, scanner in enumerate(self.scanners):
            if scanner_names.count(scanner.name) > 1:
                raise _KeyError(f"scanners[{i}].name", f"scanner name {scanner.name!r} is used twice")
        return self

    def profile(self, name: str) -> ProfileConfig:
        for profile in self.profiles:
            if profile.name == name:
                return profile
        raise KeyError(name)

    @property
    def journal_path(self) -> Path:
        return self.resolve(self.kiosk.journal)

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else self.path.parent / path


class _KeyError(ValueError):
    """A cross-reference problem that names its key exactly."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _format_validation(path: Path, exc: ValidationError) -> str:
    lines = []
    vendors = set(installed())
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
        if len(loc) > 2 and loc[0] == "backends" and loc[2] in vendors:
            loc = loc[:2] + loc[3:]  # the union's tag: the vendor, already named by the backend
        key = _format_loc(loc) or "(top level)"
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _KeyError):
            key, msg = ctx_error.key, ctx_error.message
        elif err["type"] in ("union_tag_invalid", "union_tag_not_found") or (
                loc[:1] == ("backends",) and loc[-1:] == ("vendor",) and err["type"] == "literal_error"):
            key = _format_loc(loc[:2]) + ".vendor"
            given = err.get("input", {}).get("vendor") if isinstance(err.get("input"), dict) else err.get("input")
            msg = (f"no connector for vendor {given!r} is installed "
                   f"(installed: {', '.join(repr(v) for v in sorted(vendors)) or 'none'})"
                   if given is not None else "required key is missing (the backend's vendor)")
        elif err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against config.example.toml)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        else:
            msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {key}: {msg}")
    return "\n".join(lines)


def load_config(path: str | Path) -> Config:
    """Read, parse and validate the config file; raise ``ConfigError`` with a clear message."""
    path = Path(path)
    data = read_toml(path, "config file", ConfigError)
    if "path" in data:
        raise ConfigError(f"{path}: path: unknown key (check the spelling against config.example.toml)")
    try:
        return _config_model().model_validate({**data, "path": path.resolve()})
    except ValidationError as exc:
        raise ConfigError(_format_validation(path, exc)) from None


def _config_model() -> type[Config]:
    """``Config`` whose backends are the installed connectors' config models, keyed on ``vendor``."""
    models = tuple(plugin.config_model for plugin in installed().values())
    if not models:
        return Config
    backend: Any = models[0] if len(models) == 1 else Annotated[Union[models], Field(discriminator="vendor")]
    model: type[Config] = create_model("Config", __base__=Config, backends=(dict[str, backend], ...))
    return model
