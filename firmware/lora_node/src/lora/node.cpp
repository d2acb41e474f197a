#include "node.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

namespace lora {

const char* status_name(Status status) {
  switch (status) {
    case Status::ok: return "ok";
    case Status::non_finite: return "non-finite reading";
    case Status::too_long: return "payload over 240 bytes";
    case Status::buffer_too_small: return "buffer too small";
    case Status::bad_uid: return "no valid UID from the module";
    case Status::bad_config: return "invalid configuration";
    case Status::timeout: return "module did not answer";
    case Status::module_error: return "module answered +ERR";
    case Status::mismatch: return "module reports a different setting";
  }
  return "unknown";
}

namespace {

bool is_upper_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

// Appends text to out[*used..]; false if it does not fit with its NUL.
bool append(char* out, size_t capacity, size_t* used, const char* text, size_t length) {
  if (*used + length + 1 > capacity) return false;
  memcpy(out + *used, text, length);
  *used += length;
  out[*used] = '\0';
  return true;
}

bool starts_with(const char* text, const char* prefix) {
  return strncmp(text, prefix, strlen(prefix)) == 0;
}

}  // namespace

Status format_float(float value, char* out, size_t capacity, size_t* length) {
  if (!isfinite(value)) return Status::non_finite;
  int n = snprintf(out, capacity, "%4.2f", static_cast<double>(value));
  if (n < 0 || static_cast<size_t>(n) >= capacity) return Status::buffer_too_small;
  *length = static_cast<size_t>(n);
  return Status::ok;
}

float calibrate(float raw_celsius, float factor) { return raw_celsius + factor; }

Status build_data(const char* uid, const Readings& r, char* out, size_t capacity,
                  size_t* length) {
  // Built in a scratch buffer so a reading that does not fit never leaves half a payload.
  char data[kMaxData + 1];
  size_t used = 0;
  data[0] = '\0';
  if (uid != nullptr) {
    size_t n = strlen(uid);
    if (n != kUidLength) return Status::bad_uid;
    for (size_t i = 0; i < n; ++i) {
      if (!is_upper_hex(uid[i])) return Status::bad_uid;
    }
    append(data, sizeof data, &used, uid, n);
  }
  const float floats[] = {r.temperature, r.humidity, r.pressure};
  for (float f : floats) {
    if (!isfinite(f)) return Status::non_finite;
  }
  char field[48];
  size_t n = 0;
  for (float f : floats) {
    if (used > 0 && !append(data, sizeof data, &used, "|", 1)) return Status::too_long;
    Status s = format_float(f, field, sizeof field, &n);
    if (s != Status::ok) return s == Status::buffer_too_small ? Status::too_long : s;
    if (!append(data, sizeof data, &used, field, n)) return Status::too_long;
  }
  const int32_t counts[] = {r.red, r.green, r.blue, r.ambient};
  for (int32_t c : counts) {
    int w = snprintf(field, sizeof field, "|%ld", static_cast<long>(c));
    if (!append(data, sizeof data, &used, field, static_cast<size_t>(w))) return Status::too_long;
  }
  if (used + 1 > capacity) return Status::buffer_too_small;
  memcpy(out, data, used + 1);
  *length = used;
  return Status::ok;
}

uint16_t crc16(const char* data, size_t length) {
  uint16_t crc = 0xFFFF;
  for (size_t i = 0; i < length; ++i) {
    crc = static_cast<uint16_t>(crc ^ (static_cast<uint8_t>(data[i]) << 8));
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

Status build_data_v2(const char* uid, const Readings& r, const Identity& identity, char* out,
                     size_t capacity, size_t* length) {
  if (uid == nullptr) return Status::bad_uid;  // format 2 always names its node
  char data[kMaxData + 1];
  size_t used = 0;
  Status s = build_data(uid, r, data, sizeof data, &used);
  if (s != Status::ok) return s;
  char tail[32];
  int w = snprintf(tail, sizeof tail, "|%d|%08lX|%lu|", kPayloadVersion,
                   static_cast<unsigned long>(identity.boot_id),
                   static_cast<unsigned long>(identity.counter));
  if (!append(data, sizeof data, &used, tail, static_cast<size_t>(w))) return Status::too_long;
  // The CRC covers everything before its own '|'.
  w = snprintf(tail, sizeof tail, "%04X", static_cast<unsigned>(crc16(data, used - 1)));
  if (!append(data, sizeof data, &used, tail, static_cast<size_t>(w))) return Status::too_long;
  if (used + 1 > capacity) return Status::buffer_too_small;
  memcpy(out, data, used + 1);
  *length = used;
  return Status::ok;
}

Status build_send(uint16_t destination, const char* data, size_t data_length, char* out,
                  size_t capacity, size_t* length) {
  if (data_length > kMaxData) return Status::too_long;
  if (memchr(data, ',', data_length) != nullptr) return Status::bad_config;
  int head = snprintf(out, capacity, "AT+SEND=%u,%u,", static_cast<unsigned>(destination),
                      static_cast<unsigned>(data_length));
  if (head < 0) return Status::buffer_too_small;
  size_t used = static_cast<size_t>(head);
  if (used >= capacity || !append(out, capacity, &used, data, data_length) ||
      !append(out, capacity, &used, "\r\n", 2)) {
    return Status::buffer_too_small;
  }
  *length = used;
  return Status::ok;
}

bool parse_uid_reply(const char* line, size_t length, char* uid) {
  static const char kPrefix[] = "+UID=";
  const size_t prefix = sizeof kPrefix - 1;
  if (length >= 2 && line[length - 2] == '\r' && line[length - 1] == '\n') length -= 2;
  if (length != prefix + kUidLength || strncmp(line, kPrefix, prefix) != 0) return false;
  for (size_t i = 0; i < kUidLength; ++i) {
    if (!is_upper_hex(line[prefix + i])) return false;
  }
  memcpy(uid, line + prefix, kUidLength);
  uid[kUidLength] = '\0';
  return true;
}

bool valid_cpin(const char* cpin) {
  if (cpin == nullptr || strlen(cpin) != kCpinLength) return false;
  for (size_t i = 0; i < kCpinLength; ++i) {
    if (!is_upper_hex(cpin[i])) return false;
  }
  return true;
}

Status validate(const Config& c) {
  if (c.network_id > 16 || !valid_cpin(c.cpin) || c.period_ms == 0 || c.uid_attempts == 0 ||
      !isfinite(c.calibration)) {
    return Status::bad_config;
  }
  return Status::ok;
}

namespace {

// What the module reports on its own, at any time: a packet from another node (+RCV=) or a
// receive error (+ERR=12 CRC error, +ERR=19 RX header error). Never the answer to a command.
bool unsolicited(const char* line) {
  return starts_with(line, "+RCV=") || strcmp(line, "+ERR=12") == 0 ||
         strcmp(line, "+ERR=19") == 0;
}

// +ERR=n after which the same AT+SEND may well succeed.
bool transient(int error) { return error == 10 || error == 15 || error == 17; }

}  // namespace

int Modem::read_reply(char* buf, size_t capacity) {
  for (int skipped = 0; skipped < 8; ++skipped) {
    int n = port_.read_line(buf, capacity, config_.reply_timeout_ms);
    if (n < 0) return n;
    if (n == 0 || unsolicited(buf)) continue;
    return n;
  }
  return -1;
}

void Modem::drain() {
  // A reply that came after its command timed out must not answer the next command.
  char line[kLineCapacity];
  for (int i = 0; i < 16 && port_.read_line(line, sizeof line, 0) >= 0; ++i) {
  }
  memset(line, 0, sizeof line);  // it may have held the key read back by AT+CPIN?
}

Status Modem::expect_ok(const char* step) {
  last_step_ = step;
  char reply[kLineCapacity];
  int n = read_reply(reply, sizeof reply);
  if (n < 0) return Status::timeout;
  if (strcmp(reply, "+OK") == 0) return Status::ok;
  if (starts_with(reply, "+ERR=")) {
    last_error_ = static_cast<int>(strtol(reply + 5, nullptr, 10));
    return Status::module_error;
  }
  return Status::mismatch;
}

Status Modem::command(const char* text, const char* step) {
  drain();
  port_.write(text, strlen(text));
  return expect_ok(step);
}

Status Modem::boot(char* uid) {
  last_error_ = 0;
  if (validate(config_) != Status::ok) return Status::bad_config;
  char line[kLineCapacity];
  bool have_uid = false;
  last_step_ = "AT+UID?";
  for (uint8_t attempt = 0; attempt < config_.uid_attempts && !have_uid; ++attempt) {
    static const char kUid[] = "AT+UID?\r\n";
    drain();
    port_.write(kUid, sizeof kUid - 1);
    int n = read_reply(line, sizeof line);
    have_uid = n > 0 && parse_uid_reply(line, static_cast<size_t>(n), uid);
  }
  if (!have_uid) return Status::bad_uid;

  char text[kLineCapacity];
  snprintf(text, sizeof text, "AT+ADDRESS=%u\r\n", static_cast<unsigned>(config_.address));
  Status s = command(text, "AT+ADDRESS=");
  if (s != Status::ok) return s;
  snprintf(text, sizeof text, "AT+NETWORKID=%u\r\n", static_cast<unsigned>(config_.network_id));
  s = command(text, "AT+NETWORKID=");
  if (s != Status::ok) return s;
  snprintf(text, sizeof text, "AT+CPIN=%s\r\n", config_.cpin);
  s = command(text, "AT+CPIN=");
  memset(text, 0, sizeof text);  // the key does not linger on the stack
  if (s != Status::ok) return s;

  static const char kQuery[] = "AT+CPIN?\r\n";
  last_step_ = "AT+CPIN?";
  drain();
  port_.write(kQuery, sizeof kQuery - 1);
  int n = read_reply(line, sizeof line);
  if (n < 0) return Status::timeout;
  bool same = starts_with(line, "+CPIN=") && strcmp(line + 6, config_.cpin) == 0;
  memset(line, 0, sizeof line);
  return same ? Status::ok : Status::mismatch;
}

Status Modem::send(const char* data, size_t length) {
  last_error_ = 0;
  char text[kSendCapacity];
  size_t n = 0;
  Status s = build_send(config_.destination, data, length, text, sizeof text, &n);
  if (s != Status::ok) return s;
  attempts_ = 0;
  const uint8_t budget = config_.send_attempts > 0 ? config_.send_attempts : 1;
  while (true) {
    ++attempts_;
    last_error_ = 0;
    drain();
    port_.write(text, n);
    s = expect_ok("AT+SEND=");
    bool again = s == Status::timeout || (s == Status::module_error && transient(last_error_));
    if (!again || attempts_ >= budget) return s;
  }
}

bool Schedule::due(uint32_t now_ms) {
  // Signed difference handles the wrap of millis() after 49.7 days.
  int32_t late = static_cast<int32_t>(now_ms - next_);
  if (late < 0) return false;
  next_ = static_cast<uint32_t>(late) >= period_ ? now_ms + period_ : next_ + period_;
  return true;
}

}  // namespace lora
