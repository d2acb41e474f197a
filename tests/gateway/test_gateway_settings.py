"""gateway/settings.py, the gateway's one reader of its environment, and what reaches the
programs from it: numbers with errors that name the variable, the emulator's keys."""

import pytest

from gateway import settings
from gateway.emulator import Emulator, parse_args
from tests.gateway.harness import TEST_CPIN


def test_numbers_come_from_the_variable_or_the_default(monkeypatch):
    monkeypatch.delenv("LORA_BAUD", raising=False)
    assert settings.number("LORA_BAUD", 115200) == 115200
    monkeypatch.setenv("LORA_BAUD", "9600")
    assert settings.number("LORA_BAUD", 115200) == 9600
    monkeypatch.setenv("GATEWAY_STATS_INTERVAL", "0.5")
    assert settings.number("GATEWAY_STATS_INTERVAL", 60.0, float) == 0.5


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        (int, "fast", "environment variable LORA_BAUD='fast' is not an integer"),
        (int, "9600.0", "environment variable LORA_BAUD='9600.0' is not an integer"),
        (float, "1m", "environment variable LORA_BAUD='1m' is not a number"),
    ],
)
def test_a_bad_number_is_one_line_naming_the_variable(monkeypatch, kind, value, message):
    monkeypatch.setenv("LORA_BAUD", value)
    with pytest.raises(settings.SettingError) as error:
        settings.number("LORA_BAUD", 115200, kind)
    assert str(error.value) == message


def test_text_keeps_an_empty_value(monkeypatch):
    """An empty LORA_CPIN_FILE is set (to nothing), not unset: the radio key then comes from
    LORA_CPIN, as it always did."""
    monkeypatch.setenv("LORA_CPIN_FILE", "")
    assert settings.text("LORA_CPIN_FILE", "default") == ""
    monkeypatch.delenv("LORA_CPIN_FILE")
    assert settings.text("LORA_CPIN_FILE", "default") == "default"


def test_the_emulator_takes_its_keys_from_the_environment(monkeypatch):
    other = "0" * 32
    monkeypatch.setenv("RYLR896_MODULE_CPIN", TEST_CPIN)
    monkeypatch.setenv("RYLR896_NODE_CPIN", other)
    module_cpin, node_cpin = settings.emulated_keys()
    assert (module_cpin, node_cpin) == (TEST_CPIN, other)
    emulator = Emulator(parse_args(["--corrupt", "0"]), module_cpin, node_cpin)
    assert emulator.module.values["CPIN"] == TEST_CPIN
    # The node encrypts with another key: the module hands on garbled data.
    line, kind, valid = emulator.packet()
    assert (kind, valid) == ("wrong-key", False)
    same = Emulator(parse_args([]), TEST_CPIN, TEST_CPIN)
    assert same.packet()[1:] == ("reading", True)
    monkeypatch.delenv("RYLR896_MODULE_CPIN")
    monkeypatch.delenv("RYLR896_NODE_CPIN")
    assert settings.emulated_keys() == ("", "")
