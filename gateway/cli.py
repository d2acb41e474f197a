"""lora-gateway: RYLR896 packets from a serial port to AWS IoT Core (MQTT, mTLS, QoS 1).

    lora-gateway --port /dev/ttyAMA0 --endpoint <prefix>-ats.iot.<region>.amazonaws.com \\
        --cert gw.pem.crt --key gw.private.key --ca AmazonRootCA1.pem \\
        --client-id lora-iot-gateway-01 --topic lora-iot-demo --spool /var/lib/lora-gateway/spool.db

The radio key comes from --cpin-file or LORA_CPIN, never from the command line. Every flag
has an environment variable (shown in --help). --dry-run prints each message as one JSON line
on stdout instead of publishing; counters and errors go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sqlite3
import ssl
import sys
import time
from pathlib import Path

import serial

from gateway import settings
from gateway.intake import Intake
from gateway.message import GATEWAY_CLIENT_ID, TOPIC
from gateway.parser import Limits
from gateway.publisher import MqttSettings, Publisher
from gateway.radio import (
    BAUD_RATES,
    ConfigError,
    LineReader,
    RadioSettings,
    StartupError,
    configure,
    load_cpin,
)
from gateway.spool import POLICIES, Spool, SpoolError

log = logging.getLogger("gateway")
GATEWAY_ID = re.compile(r"[0-9a-f]{16}")
SERIAL_TIMEOUT_S = 0.2  # pyserial's own read timeout (reads normally find their bytes waiting)
SERIAL_WAIT_S = 0.2  # the loop looks up from the radio at least this often
BACKLOG_POLL_S = 0.005  # ... and this often while a backlog waits for acknowledgements
RADIO_RETRY_MAX_S = 30.0  # longest wait between attempts to open and configure the radio


def cpu_serial(cpuinfo: str = "/proc/cpuinfo") -> str | None:
    """The Raspberry Pi's CPU serial: the last token of the 'Serial' line."""
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.startswith("Serial"):
                return line.split()[-1].lower()
    except OSError:
        pass
    return None


def env_flag(group, flag: str, variable: str, default=None, about: str = "", **options):
    """A flag whose default comes from an environment variable, named in its help. With
    `type=int` or `float` the variable is parsed as one (a bad value raises SettingError)."""
    kind = options.get("type")
    if kind in (int, float):
        default = settings.number(variable, default, kind)
    else:
        default = settings.text(variable, default)
    help_text = f"{variable}: {about}" if about else variable
    group.add_argument(flag, default=default, help=help_text, **options)


def add_flags(p: argparse.ArgumentParser) -> None:
    radio = p.add_argument_group("radio (REYAX RYLR896 on a serial port)")
    env_flag(radio, "--port", "LORA_PORT", "/dev/ttyAMA0")
    env_flag(radio, "--baud", "LORA_BAUD", 115200, "8N1", type=int)
    env_flag(radio, "--address", "LORA_ADDRESS", 116, "this module's address", type=int)
    env_flag(radio, "--network-id", "LORA_NETWORK_ID", 6, type=int)
    env_flag(radio, "--senders", "LORA_SENDERS", "116", "comma-separated node addresses to accept")
    env_flag(
        radio,
        "--cpin-file",
        "LORA_CPIN_FILE",
        about="file holding the AES-128 key (else LORA_CPIN)",
    )
    mqtt = p.add_argument_group("MQTT (AWS IoT Core)")
    env_flag(mqtt, "--endpoint", "IOT_ENDPOINT")
    env_flag(mqtt, "--mqtt-port", "IOT_PORT", 8883, type=int)
    env_flag(mqtt, "--cert", "IOT_CERT", about="client certificate")
    env_flag(mqtt, "--key", "IOT_KEY", about="client private key")
    env_flag(mqtt, "--ca", "IOT_CA", about="e.g. AmazonRootCA1.pem")
    env_flag(mqtt, "--client-id", "IOT_CLIENT_ID", GATEWAY_CLIENT_ID, "the IoT thing name")
    env_flag(mqtt, "--topic", "IOT_TOPIC", TOPIC)
    env_flag(mqtt, "--keep-alive", "IOT_KEEP_ALIVE", 6, "seconds", type=int)
    env_flag(
        mqtt,
        "--reconnect-max",
        "IOT_RECONNECT_MAX",
        60,
        "longest backoff between attempts, seconds",
        type=int,
    )
    gw = p.add_argument_group("gateway")
    env_flag(gw, "--gateway-id", "GATEWAY_ID", about="16 hex digits; default: the CPU serial")
    env_flag(
        gw,
        "--spool",
        "GATEWAY_SPOOL",
        "lora-gateway-spool.db",
        "SQLite file of unacknowledged messages",
    )
    env_flag(gw, "--spool-max", "GATEWAY_SPOOL_MAX", 1000000, "messages kept at most", type=int)
    env_flag(
        gw,
        "--spool-full",
        "GATEWAY_SPOOL_FULL",
        "drop-oldest",
        "what to drop when full",
        choices=POLICIES,
    )
    env_flag(
        gw,
        "--schema-version",
        "GATEWAY_SCHEMA_VERSION",
        1,
        "2 adds msg_id, rssi, snr (to readings of format-1 nodes; format-2 readings are always v3)",
        type=int,
        choices=(1, 2),
    )
    env_flag(
        gw,
        "--stats-interval",
        "GATEWAY_STATS_INTERVAL",
        60.0,
        "seconds between counter logs",
        type=float,
    )
    gw.add_argument(
        "--dry-run", action="store_true", help="print messages on stdout instead of publishing"
    )
    env_flag(
        gw,
        "--log-level",
        "GATEWAY_LOG_LEVEL",
        "INFO",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="lora-gateway",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    try:
        add_flags(p)
    except settings.SettingError as e:
        p.error(str(e))
    args = p.parse_args(argv)
    if args.baud not in BAUD_RATES:
        p.error(f"--baud {args.baud} is not a rate the RYLR896 supports: {BAUD_RATES}")
    if not 0 <= args.address <= 65535:
        p.error(f"--address {args.address} is outside 0-65535")
    if not 0 <= args.network_id <= 16:
        p.error(f"--network-id {args.network_id} is outside 0-16")
    try:
        args.sender_set = frozenset(int(a) for a in args.senders.split(","))
    except ValueError:
        p.error(f"--senders {args.senders!r} is not a comma-separated list of addresses")
    return args


def check_tls_files(args: argparse.Namespace) -> None:
    """Fails early, naming the file, if the endpoint, certificate, key or CA is unusable."""
    for flag, value in (
        ("--endpoint", args.endpoint),
        ("--cert", args.cert),
        ("--key", args.key),
        ("--ca", args.ca),
    ):
        if not value:
            raise ConfigError(f"{flag} is required (or use --dry-run)")
    for flag, path in (("--cert", args.cert), ("--key", args.key), ("--ca", args.ca)):
        try:
            Path(path).read_bytes()
        except OSError as e:
            raise ConfigError(f"cannot read {flag} {path}: {e.strerror}") from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_cert_chain(args.cert, args.key)
    except ssl.SSLError as e:
        raise ConfigError(
            f"--cert {args.cert} and --key {args.key} are not a PEM certificate and its "
            f"private key: {e.reason or e}"
        ) from None
    try:
        context.load_verify_locations(args.ca)
    except ssl.SSLError as e:
        raise ConfigError(f"--ca {args.ca} is not a PEM CA certificate: {e.reason or e}") from None


def open_port(args) -> serial.Serial:
    try:
        return serial.Serial(
            args.port,
            args.baud,
            bytesize=8,
            parity="N",
            stopbits=1,
            timeout=SERIAL_TIMEOUT_S,
            exclusive=True,
        )
    except (serial.SerialException, OSError) as e:
        raise StartupError(f"cannot open serial device {args.port}: {e}") from None


class Gateway:
    def __init__(self, args: argparse.Namespace, cpin: str, gateway_id: str):
        self.args = args
        self.settings = RadioSettings(cpin, args.baud, args.address, args.network_id)
        self.intake = Intake(gateway_id, args.schema_version, Limits(senders=args.sender_set))
        self.stop = False
        self.next_stats = 0.0
        self.spool: Spool | None = None
        self.publisher: Publisher | None = None

    def start_radio(self):
        port = open_port(self.args)
        reader = LineReader(port)
        try:
            held = configure(port, reader, self.settings, log)
        except BaseException:
            port.close()
            raise
        log.info(
            "radio on %s configured (%d packet(s) held during start-up)", self.args.port, len(held)
        )
        return port, reader, held

    def handle(self, lines) -> None:
        accepted = [a for raw, ts in lines if (a := self.intake.handle(raw, ts)) is not None]
        if not accepted:
            return
        if self.args.dry_run:
            out = sys.stdout.buffer
            for a in accepted:
                out.write(a.payload + b"\n")
            out.flush()
            return
        self.spool.add(accepted)

    def log_stats(self) -> None:
        self.intake.reject_log.roll()  # the summary of rejected lines not logged one by one
        c = self.intake.counts
        text = (
            f"lines={c['lines']} accepted={c['accepted']} rejected={c['rejected']} "
            f"module_replies={c['module_replies']} color_flagged={c['color_flagged']}"
        )
        if self.publisher is not None:
            s = self.publisher.stats
            text += (
                f" published={s.published} publish_failures={s.publish_failures} "
                f"spool={self.spool.depth()} dropped={self.spool.counter('dropped')} "
                f"connected={s.connected}"
            )
        log.info("counters: %s", text)

    def poll_interval(self) -> float:
        """How long the loop may wait for the radio: briefly while a backlog is being sent."""
        busy = self.publisher is not None and self.publisher.busy()
        return BACKLOG_POLL_S if busy else SERIAL_WAIT_S

    def wait(self, seconds: float) -> None:
        """Sleeps, publishing meanwhile."""
        deadline = time.monotonic() + seconds
        while not self.stop and (left := deadline - time.monotonic()) > 0:
            self.tick()
            time.sleep(min(left, self.poll_interval()))

    def reopen(self, error: Exception):
        """After the serial port failed: reopens and reconfigures it, with backoff."""
        log.error("serial port %s failed: %s; reopening", self.args.port, error)
        return self.radio_with_backoff()

    def radio_with_backoff(self):
        """Opens and configures the radio, retrying with backoff for as long as it takes; the
        spool keeps being published meanwhile. (None, None, []) once asked to stop."""
        delay = 1.0
        while not self.stop:
            try:
                return self.start_radio()
            except (StartupError, OSError) as e:
                depth = self.spool.depth() if self.spool is not None else 0
                log.error(
                    "radio not ready: %s; the gateway stays up (%d message(s) in the spool keep "
                    "being published) and retries in %g s",
                    e,
                    depth,
                    delay,
                )
                self.wait(delay)
                delay = min(delay * 2, RADIO_RETRY_MAX_S)
        return None, None, []

    def tick(self) -> None:
        """Publishes what fits and logs the counters when due."""
        if self.publisher is not None:
            self.publisher.pump()
        if time.monotonic() >= self.next_stats:
            self.log_stats()
            self.next_stats = time.monotonic() + self.args.stats_interval

    def run(self) -> int:
        # The spool and the publisher come first: a backlog from before drains even while the
        # radio is missing or does not answer (it is retried with backoff meanwhile).
        if not self.args.dry_run:
            self.spool = Spool(self.args.spool, self.args.spool_max, self.args.spool_full)
            log.info(
                "spool %s: %d message(s) waiting from before", self.args.spool, self.spool.depth()
            )
            a = self.args
            settings = MqttSettings(
                endpoint=a.endpoint,
                port=a.mqtt_port,
                cert=a.cert,
                key=a.key,
                ca=a.ca,
                client_id=a.client_id,
                topic=a.topic,
                keep_alive_secs=a.keep_alive,
                reconnect_max_secs=a.reconnect_max,
            )
            self.publisher = Publisher(settings, self.spool)
        port = None
        self.next_stats = time.monotonic() + self.args.stats_interval
        try:
            if self.args.dry_run:
                # Nothing to drain: a radio that does not start is an error to show at once.
                port, reader, held = self.start_radio()
            else:
                self.tick()  # the first connection attempt does not wait for the radio
                port, reader, held = self.radio_with_backoff()
            self.handle(held)
            while not self.stop and port is not None:
                try:
                    lines = reader.read(self.poll_interval())
                except (serial.SerialException, OSError) as e:
                    port.close()
                    port, reader, lines = self.reopen(e)
                    if port is None:
                        break
                self.handle(lines)
                self.tick()
        finally:
            if port is not None:
                port.close()
            if self.publisher is not None:
                self.publisher.close()
            self.log_stats()
            if self.spool is not None:
                self.spool.close()
        return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        cpin = load_cpin(args.cpin_file, settings.radio_key())
        gateway_id = args.gateway_id or cpu_serial()
        if not gateway_id:
            raise ConfigError("--gateway-id is needed: this machine has no CPU serial")
        if not GATEWAY_ID.fullmatch(gateway_id):
            raise ConfigError(f"--gateway-id {gateway_id!r} is not 16 lower-case hex digits")
        if not args.dry_run:
            check_tls_files(args)
            Spool(args.spool, args.spool_max, args.spool_full).close()
        gateway = Gateway(args, cpin, gateway_id)

        def stop(signum, frame):
            log.info("signal %d: stopping", signum)
            gateway.stop = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        return gateway.run()
    except (ConfigError, SpoolError) as e:
        log.error("%s", e)
        return 2
    except StartupError as e:
        log.error("start-up failed: %s", e)
        return 1
    except sqlite3.Error as e:
        # The failed transaction was rolled back: what the spool held is still there.
        log.error("spool %s failed: %s", args.spool, e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
