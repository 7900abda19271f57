"""What every vendor connector does the same way: read a secret, word a failed exchange.

``read_secret()`` reads a token, key or secret from the environment variable or the first
line of the file a backend names (``<key>_env`` / ``<key>_file``); a missing or unusable
source raises ``SecretUnavailable`` naming the config key and the source, never the value.

``exchange_failure()`` turns what ``kiosk.connectors.http.exchange`` raised into the answer
the station shows: ``BadAnswer`` for a body the kiosk will not read (``unknown`` for a 2xx),
``Unreachable`` for no answer, both in the server's own name and address.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from kiosk.connectors.base import BadAnswer, ConnectorError, Unreachable
from kiosk.connectors.http import (
    BadBody,
    DeadlineAfterSend,
    DeadlineBeforeSend,
    ExchangeError,
    TransportFailed,
    excerpt,
    parse_retry_after,
)
from kiosk.files import FileRefused, loose_permissions, read_small_file

log = logging.getLogger(__name__)

SECRET_FILE_MAX_BYTES = 64 * 1024
CLOSED = "the server closed the connection without answering"


class SecretUnavailable(ConnectorError):
    """A token, key or secret source that is missing or unusable; the message names the source only.

    ``key`` is the config key at fault (e.g. ``channel_key_file``); ``advice`` says what to do."""

    def __init__(self, key: str, message: str, advice: str) -> None:
        super().__init__(message, key=key, advice=advice)


def read_secret(name: str, key: str, env: str | None, file: Path | None, *, what: str,
                forbid: str = "") -> str | None:
    """The secret ``what`` (e.g. "API token") of backend ``name`` from the environment variable
    ``env`` or the first line of ``file``; None when neither is configured. ``key`` is the config
    keys' stem (``token`` for ``token_env`` / ``token_file``). Only printable ASCII without spaces
    (and none of ``forbid``) is taken.

    Only a regular file of at most ``SECRET_FILE_MAX_BYTES`` is read (a FIFO or device is
    refused, never opened for blocking reads); a file other users can read is used, with a
    warning in the log."""
    if env:
        secret = os.environ.get(env, "").strip()
        if not secret:
            raise SecretUnavailable(
                f"{key}_env", f"environment variable {env} is not set or empty (it must hold the {what})",
                f"set {env} to the {what} in the kiosk's environment (export {env}=..., or the service's "
                "EnvironmentFile), then start again",
            )
        key, source = f"{key}_env", f"environment variable {env}"
    elif file:
        label = key.replace("_", " ")
        key = f"{key}_file"
        fix_file = f"put the {what} on the first line of {file}, readable only by the kiosk user (chmod 600)"
        try:
            lines = read_small_file(file, SECRET_FILE_MAX_BYTES).decode("utf-8").splitlines()
        except FileNotFoundError:
            raise SecretUnavailable(key, f"{label} file {file} not found",
                                    f"{fix_file}, or correct backends.{name}.{key}") from None
        except PermissionError:
            raise SecretUnavailable(key, f"cannot read {label} file {file} (permission denied)",
                                    f"let the kiosk user read {file} (chown it to that user, chmod 600)") from None
        except FileRefused as exc:
            raise SecretUnavailable(key, f"{label} file {file} {exc}", fix_file) from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise SecretUnavailable(key, f"cannot read {label} file {file} ({reason})", fix_file) from None
        secret = lines[0].strip() if lines else ""
        if not secret:
            raise SecretUnavailable(key, f"{label} file {file} is empty (the first line must hold the {what})",
                                    fix_file)
        loose = loose_permissions(file)
        if loose:
            log.warning("backend %s: %s file %s is not private (%s): run chmod 600 %s", name, label, file, loose, file)
        source = f"{label} file {file}"
    else:
        return None
    if not all(0x21 <= ord(ch) <= 0x7E and ch not in forbid for ch in secret):
        what_not = "an HTTP header cannot carry (spaces, controls or non-ASCII)" if not forbid else \
            f"it cannot hold (spaces, controls, non-ASCII or {' '.join(repr(ch) for ch in forbid)})"
        raise SecretUnavailable(key, f"the {what} in {source} has characters {what_not}",
                                f"the {source} must hold only the {what} itself (no quotes, spaces or other text)")
    return secret


def exchange_failure(exc: ExchangeError, *, server: str, where: str, timeout_s: float,
                     may: str) -> BadAnswer | Unreachable:
    """The answer for a failed exchange with ``server`` (e.g. "the Scantrust server") at ``where``
    (its shown address): ``may`` says what the vendor may have done with a request it got."""
    the_server = server[:1].upper() + server[1:]
    if isinstance(exc, BadBody):
        unknown = 200 <= exc.status < 300
        shown = excerpt(exc.head, more=bool(exc.head))
        message = (f"{the_server} answered HTTP {exc.status} with an answer the kiosk will not read ({exc.message})"
                   + (f": {shown}" if shown else "") + (f"; {may}" if unknown else ""))
        return BadAnswer(message, http_status=exc.status, excerpt=shown, unknown=unknown,
                         retry_after_s=parse_retry_after(exc.headers.get("Retry-After")))
    seconds = f"{timeout_s:g} s"
    if isinstance(exc, DeadlineBeforeSend):
        return Unreachable(f"Cannot connect to {server} at {where} (no connection within {seconds})", sent=False)
    if isinstance(exc, DeadlineAfterSend):
        return Unreachable(f"{the_server} at {where} did not answer within {seconds}; {may}", sent=True)
    reason = exc.reason if isinstance(exc, TransportFailed) else exc.message
    if not exc.sent:
        return Unreachable(f"Cannot connect to {server} at {where} ({reason})", sent=False)
    if reason == CLOSED:
        return Unreachable(f"{the_server} at {where} closed the connection without answering; {may}", sent=True)
    return Unreachable(f"The connection to {server} at {where} failed ({reason}); {may}", sent=True)
