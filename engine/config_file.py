"""One configuration for every command: where the settings file is, and
configuration mistakes as one-line errors instead of silence or tracebacks.

The file is `--config FILE`, else `$USDTPAY_CONFIG`, else the first of
DEFAULT_FILES that exists; environment variables win over it (engine.config).
A named file that does not exist, malformed TOML, an unknown key or
`USDTPAY_…` variable, and a value of the wrong form are each a ConfigError
whose message names the place, the expected form and, for unknown names, the
nearest valid one. The command line prints it and exits 2.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_settings import SettingsError

from engine.config import Settings, load_settings

ENV_PREFIX = "USDTPAY_"
CONFIG_ENV = "USDTPAY_CONFIG"
DEFAULT_FILES = (Path("usdtpay.toml"), Path("/etc/usdtpay/usdtpay.toml"))
# USDTPAY_ variables that are not settings: the file itself, and the test
# harness's and benchmarks' own (the anvil binary, Chromium, PostgreSQL, results).
NOT_SETTINGS = frozenset({CONFIG_ENV, "USDTPAY_ANVIL"})
NOT_SETTINGS_PREFIXES = ("USDTPAY_TEST_", "USDTPAY_BENCH_")


class ConfigError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def config_path(explicit: str | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The settings file this command reads, or None for environment only."""
    env = os.environ if environ is None else environ
    named = explicit or env.get(CONFIG_ENV) or ""
    if named:
        path = Path(named)
        if not path.is_file():
            source = "--config" if explicit else CONFIG_ENV
            raise ConfigError(f"config file {named} ({source}) does not exist or is not a file")
        return path
    return next((path for path in DEFAULT_FILES if path.is_file()), None)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _is_mapping(annotation: Any) -> bool:
    return getattr(annotation, "__origin__", None) is dict


def setting_names(model: type[BaseModel] = Settings, prefix: str = "") -> Iterator[tuple[str, bool]]:
    """Every setting as a dotted name, with whether it is a mapping (free keys)."""
    for name, field in model.model_fields.items():
        sub = _model_of(field.annotation)
        if sub is not None:
            yield from setting_names(sub, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", _is_mapping(field.annotation)


def _nearest(name: str, candidates: list[str]) -> str:
    match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
    return f"; did you mean {match[0]}?" if match else ""


def check_file_keys(data: Mapping[str, Any], path: Path) -> None:
    """ConfigError for the first key the settings do not have."""
    names = dict(setting_names())
    groups = {name.rsplit(".", 1)[0] for name in names if "." in name}

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for key, value in node.items():
            dotted = f"{prefix}{key}"
            if dotted in names:
                continue
            if dotted in groups and isinstance(value, Mapping):
                walk(value, f"{dotted}.")
                continue
            raise ConfigError(f"{path}: unknown setting {dotted}{_nearest(dotted, [*names, *groups])}")

    walk(data, "")


def env_name(dotted: str) -> str:
    return ENV_PREFIX + dotted.replace(".", "__").upper()


def check_environment(environ: Mapping[str, str]) -> None:
    """ConfigError for the first USDTPAY_ variable that names no setting."""
    names = dict(setting_names())
    valid = {env_name(name): is_map for name, is_map in names.items()}
    for variable in sorted(environ):
        upper = variable.upper()
        if (
            not upper.startswith(ENV_PREFIX)
            or upper in NOT_SETTINGS
            or upper.startswith(NOT_SETTINGS_PREFIXES)
        ):
            continue
        if upper in valid or any(upper.startswith(v + "__") for v, is_map in valid.items() if is_map):
            continue
        raise ConfigError(f"unknown environment variable {variable}{_nearest(upper, list(valid))}")


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from exc


def _describe(error: Mapping[str, Any], path: Path | None) -> str:
    dotted = ".".join(str(part) for part in error.get("loc", ()))
    where = f"{dotted} ({env_name(dotted)}" + (f" or {path}" if path else "") + ")"
    given = error.get("input")
    shown = "" if isinstance(given, Mapping) else f", got {str(given)[:60]!r}"
    return f"bad value for {where}: {error.get('msg', 'invalid')}{shown}"


def load(explicit: str | None = None) -> tuple[Settings, Path | None]:
    """The settings every command uses (from os.environ and the file), and
    the file they came from."""
    path = config_path(explicit)
    if path is not None:
        check_file_keys(read_toml(path), path)
    check_environment(os.environ)
    try:
        return load_settings(path), path
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0], path)) from None
    except SettingsError as exc:  # a list or mapping variable that is not JSON
        raise ConfigError(
            f'{exc}; lists and mappings are JSON, e.g. \'["https://a", "https://b"]\''
        ) from None
