// The sensor node's logic without Arduino: payload formatting, the AT command sequence of the
// REYAX RYLR896, configuration checks and the send schedule. The sketch (lora_node.ino) wires it
// to Serial1, the sensors and millis(); host tests (firmware/test) drive it with a fake port.
//
// No heap, no exceptions, no RTTI: it builds for the nRF52840 (Cortex-M4F) as it is.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace lora {

constexpr size_t kMaxData = 240;      // the module answers +ERR=13 above this (X-F7)
constexpr size_t kUidLength = 24;     // AT+UID? answers 24 upper-case hex digits
constexpr size_t kCpinLength = 32;    // AES-128 key as 32 hex digits
constexpr size_t kLineCapacity = 64;  // longest reply the node reads: +CPIN=<32 hex>
// Payload format 2 appends |2|<boot id, 8 hex>|<counter>|<CRC-16, 4 hex> to format 1's
// uid|t|h|p|r|g|b|a, so a reading is identified end to end by (uid, boot id, counter) and
// checked by a CRC-16/CCITT-FALSE over everything before the last '|'.
constexpr int kPayloadVersion = 2;
// The HTS221's range (datasheet) and so, with the calibration added, what the node can send;
// the gateway and the warehouse take the same range from test_vectors.json ("limits").
constexpr float kHts221MinC = -40.0f;
constexpr float kHts221MaxC = 120.0f;
// AT+SEND=65535,240,<240 bytes>\r\n plus the terminating NUL.
constexpr size_t kSendCapacity = 8 + 5 + 1 + 3 + 1 + kMaxData + 2 + 1;

enum class Status : uint8_t {
  ok,
  non_finite,        // a reading is NaN or infinite: nothing is sent (X-F6)
  too_long,          // data over kMaxData
  buffer_too_small,  // the caller's buffer cannot hold the result
  bad_uid,           // AT+UID? never gave +UID=<24 hex> (X-F2)
  bad_config,        // address, network id, key or period out of range
  timeout,           // the module did not answer in time
  module_error,      // the module answered +ERR=<n> (see Modem::last_error)
  mismatch,          // a query answered with a value other than the one set
};

const char* status_name(Status status);

struct Readings {
  float temperature;  // °C, calibrated
  float humidity;     // %RH
  float pressure;     // kPa
  int32_t red;
  int32_t green;
  int32_t blue;
  int32_t ambient;
};

struct Config {
  uint16_t address = 116;      // this module's address
  uint8_t network_id = 6;      // must match the gateway's
  uint16_t destination = 116;  // AT+SEND target (0 = broadcast)
  char cpin[kCpinLength + 1] = {};  // per-deployment secret, never a default (X-F1)
  uint32_t period_ms = 5000;
  float calibration = -4.0f;   // added to the HTS221 temperature
  uint8_t uid_attempts = 3;
  uint32_t reply_timeout_ms = 1000;
  uint8_t send_attempts = 3;  // AT+SEND tries for one payload (timeouts, +ERR=10/15/17)
};

// A reading's identity: a random id drawn at boot and a counter from 0 within that boot.
struct Identity {
  uint32_t boot_id;
  uint32_t counter;
};

// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection): "123456789" -> 0x29B1.
uint16_t crc16(const char* data, size_t length);

// Arduino's `String += float`: printf "%4.2f" of the float widened to double.
Status format_float(float value, char* out, size_t capacity, size_t* length);

float calibrate(float raw_celsius, float factor);

// <data> of AT+SEND: uid|t|h|p|r|g|b|a, or t|h|p|r|g|b|a when uid is null (variant v0).
Status build_data(const char* uid, const Readings& readings, char* out, size_t capacity,
                  size_t* length);

// Format 2: uid|t|h|p|r|g|b|a|2|<boot id>|<counter>|<crc>.
Status build_data_v2(const char* uid, const Readings& readings, const Identity& identity,
                     char* out, size_t capacity, size_t* length);

// AT+SEND=<destination>,<len>,<data>\r\n
Status build_send(uint16_t destination, const char* data, size_t data_length, char* out,
                  size_t capacity, size_t* length);

// "+UID=<24 upper-case hex>" (CRLF optional) -> uid (25 bytes with NUL). False otherwise.
bool parse_uid_reply(const char* line, size_t length, char* uid);

bool valid_cpin(const char* cpin);
Status validate(const Config& config);

// The module's UART as the node sees it. Not owned; no virtual destructor (no delete here).
class Port {
 public:
  virtual void write(const char* data, size_t length) = 0;
  // One line without its CRLF into buf (NUL-terminated); returns its length, or -1 when no
  // complete line arrived within timeout_ms.
  virtual int read_line(char* buf, size_t capacity, uint32_t timeout_ms) = 0;

 protected:
  ~Port() = default;
};

class Modem {
 public:
  Modem(Port& port, const Config& config) : port_(port), config_(config) {}

  // AT+UID? (retried until a valid UID), AT+ADDRESS=, AT+NETWORKID=, AT+CPIN=, AT+CPIN?;
  // every reply is checked (X-F3) and the key read back must equal the one set.
  Status boot(char* uid);
  // AT+SEND of one data string; waits for +OK, and tries again after a timeout or a transient
  // +ERR (10 TX timeout, 15 unknown failure, 17 previous TX not complete), at most
  // send_attempts times in all. attempts() tells how many it took.
  Status send(const char* data, size_t length);
  int attempts() const { return attempts_; }
  // n of the last +ERR=n, 0 if none.
  int last_error() const { return last_error_; }
  // The command that failed last (for the debug console), never containing the key.
  const char* last_step() const { return last_step_; }

 private:
  Status command(const char* text, const char* step);
  Status expect_ok(const char* step);
  int read_reply(char* buf, size_t capacity);
  void drain();

  Port& port_;
  const Config& config_;
  int last_error_ = 0;
  int attempts_ = 0;
  const char* last_step_ = "";
};

// A fixed-period schedule on a wrapping millisecond clock (X-F8: no drift from work time).
class Schedule {
 public:
  Schedule(uint32_t period_ms, uint32_t now_ms) : period_(period_ms), next_(now_ms) {}
  // True once per period; after a stall longer than a period it restarts from now.
  bool due(uint32_t now_ms);

 private:
  uint32_t period_;
  uint32_t next_;
};

}  // namespace lora
