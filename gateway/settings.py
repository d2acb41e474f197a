"""The gateway's environment (systemd's EnvironmentFile, or the shell that starts it): the one
module of gateway/ that reads it; everything else takes values as arguments.

The gateway runs on a Raspberry Pi with nothing but this package, so it keeps its own small
reader instead of importing the lakehouse's settings.
"""

from __future__ import annotations

import os


class SettingError(ValueError):
    """An environment variable holds a value the gateway cannot use (the message names it)."""


def text(name: str, default: str | None = None) -> str | None:
    """The variable as it is set (an empty value included), else `default`."""
    return os.environ.get(name, default)


def number(name: str, default: int | float | None, kind: type = int) -> int | float | None:
    """The variable as an int (or `kind`), else `default`; a value that is not one is an error
    naming the variable."""
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise SettingError(f"environment variable {name}={value!r} is not {what}") from None


def radio_key() -> str | None:
    """LORA_CPIN: the radio's AES-128 key when no --cpin-file is given (never a flag, so it
    stays out of the process list)."""
    return os.environ.get("LORA_CPIN")


def emulated_keys() -> tuple[str, str]:
    """RYLR896_MODULE_CPIN and RYLR896_NODE_CPIN: the key the emulated module starts with and
    the one its node encrypts with ('' for none)."""
    return os.environ.get("RYLR896_MODULE_CPIN", ""), os.environ.get("RYLR896_NODE_CPIN", "")
