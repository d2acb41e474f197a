// Host tests of the node library (g++), against the shared vectors in firmware/test_vectors.json
// that the gateway's tests assert too. Usage: test_node <path to test_vectors.json>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lora/node.h"

using nlohmann::json;

namespace {

int checks = 0;
int failures = 0;

#define CHECK(cond)                                                         \
  do {                                                                      \
    ++checks;                                                               \
    if (!(cond)) {                                                          \
      ++failures;                                                           \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                       \
  } while (0)

#define CHECK_EQ(a, b)                                                                  \
  do {                                                                                  \
    ++checks;                                                                           \
    auto va = (a);                                                                      \
    auto vb = (b);                                                                      \
    if (!(va == vb)) {                                                                  \
      ++failures;                                                                       \
      std::fprintf(stderr, "%s:%d: CHECK_EQ failed: %s != %s\n  left:  [%s]\n  right: [%s]\n", \
                   __FILE__, __LINE__, #a, #b, show(va).c_str(), show(vb).c_str());     \
    }                                                                                   \
  } while (0)

std::string show(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}
std::string show(lora::Status s) { return lora::status_name(s); }
const char* status_key(lora::Status s) {
  switch (s) {
    case lora::Status::ok: return "ok";
    case lora::Status::timeout: return "timeout";
    case lora::Status::module_error: return "module_error";
    default: return lora::status_name(s);
  }
}
std::string show(size_t n) { return std::to_string(n); }
std::string show(int n) { return std::to_string(n); }
std::string show(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += show(s) + " ";
  return out;
}

// The module's UART: records what the node writes, answers from a script.
class FakePort : public lora::Port {
 public:
  std::vector<std::string> written;
  std::deque<std::string> replies;  // without CRLF; "" = a timeout
  std::deque<std::string> late;     // already waiting before the next command is written

  void write(const char* data, size_t length) override { written.emplace_back(data, length); }
  int read_line(char* buf, size_t capacity, uint32_t timeout_ms) override {
    std::deque<std::string>& from = !late.empty() ? late : replies;
    if (from.empty() || (timeout_ms == 0 && late.empty())) return -1;
    std::string line = from.front();
    from.pop_front();
    if (line.empty()) return -1;
    if (line.size() + 1 > capacity) line.resize(capacity - 1);
    std::memcpy(buf, line.c_str(), line.size() + 1);
    return static_cast<int>(line.size());
  }
};

lora::Readings readings_of(const json& v) {
  return lora::Readings{v["temperature"].get<float>(), v["humidity"].get<float>(),
                        v["pressure"].get<float>(),    v["red"].get<int32_t>(),
                        v["green"].get<int32_t>(),     v["blue"].get<int32_t>(),
                        v["ambient"].get<int32_t>()};
}

std::string strip_crlf(std::string s) {
  if (s.size() >= 2 && s.compare(s.size() - 2, 2, "\r\n") == 0) s.resize(s.size() - 2);
  return s;
}

lora::Config config_of(const json& boot) {
  lora::Config c;
  c.address = boot["address"].get<uint16_t>();
  c.network_id = boot["network_id"].get<uint8_t>();
  std::string key = boot["cpin"].get<std::string>();
  std::snprintf(c.cpin, sizeof c.cpin, "%s", key.c_str());
  return c;
}

void test_float_format(const json& vectors) {
  for (const auto& v : vectors["float_format"]) {
    char out[64];
    size_t n = 0;
    CHECK_EQ(lora::format_float(v["value"].get<float>(), out, sizeof out, &n), lora::Status::ok);
    CHECK_EQ(std::string(out, n), v["text"].get<std::string>());
  }
  char out[8];
  size_t n = 0;
  CHECK_EQ(lora::format_float(std::numeric_limits<float>::quiet_NaN(), out, sizeof out, &n),
           lora::Status::non_finite);
  CHECK_EQ(lora::format_float(INFINITY, out, sizeof out, &n), lora::Status::non_finite);
  CHECK_EQ(lora::format_float(1234.5f, out, 4, &n), lora::Status::buffer_too_small);
}

void test_calibration(const json& vectors) {
  const json& c = vectors["calibration"];
  float t = lora::calibrate(c["raw_temperature"].get<float>(), c["factor"].get<float>());
  char out[16];
  size_t n = 0;
  lora::format_float(t, out, sizeof out, &n);
  CHECK_EQ(std::string(out, n), c["temperature_text"].get<std::string>());
}

void test_payloads(const json& vectors) {
  for (const auto& v : vectors["payloads"]) {
    std::string uid = v["uid"].get<std::string>();
    char data[lora::kMaxData + 1];
    size_t n = 0;
    lora::Status s = lora::build_data(v["with_uid"].get<bool>() ? uid.c_str() : nullptr,
                                      readings_of(v), data, sizeof data, &n);
    CHECK_EQ(s, lora::Status::ok);
    CHECK_EQ(n, v["data_length"].get<size_t>());
    char line[lora::kSendCapacity];
    size_t m = 0;
    CHECK_EQ(lora::build_send(v["destination"].get<uint16_t>(), data, n, line, sizeof line, &m),
             lora::Status::ok);
    CHECK_EQ(std::string(line, m), v["send"].get<std::string>());
    CHECK_EQ(m, v["send_bytes"].get<size_t>());
    // The modem writes exactly that line for the same data and takes the module's +OK.
    FakePort port;
    port.replies = {"+OK"};
    lora::Config config = config_of(vectors["boot"]);
    lora::Modem modem(port, config);
    CHECK_EQ(modem.send(data, n), lora::Status::ok);
    CHECK_EQ(port.written, std::vector<std::string>{v["send"].get<std::string>()});
  }
}

void test_payload_errors(const json& vectors) {
  const json& p1 = vectors["payloads"][0];
  std::string uid = p1["uid"].get<std::string>();
  char data[lora::kMaxData + 1];
  std::memset(data, 'x', sizeof data);
  size_t n = 99;
  lora::Readings r = readings_of(p1);
  r.humidity = std::numeric_limits<float>::quiet_NaN();
  CHECK_EQ(lora::build_data(uid.c_str(), r, data, sizeof data, &n), lora::Status::non_finite);
  r = readings_of(p1);
  r.pressure = -INFINITY;
  CHECK_EQ(lora::build_data(uid.c_str(), r, data, sizeof data, &n), lora::Status::non_finite);
  CHECK_EQ(n, size_t{99});  // nothing reported as built
  r = readings_of(p1);
  CHECK_EQ(lora::build_data("0447383033363932003c0034", r, data, sizeof data, &n),
           lora::Status::bad_uid);
  CHECK_EQ(lora::build_data("", r, data, sizeof data, &n), lora::Status::bad_uid);
  CHECK_EQ(lora::build_data(uid.c_str(), r, data, 20, &n), lora::Status::buffer_too_small);
  // The widest float32 readings still fit; the 240-byte guard is on the send line.
  r.temperature = r.humidity = r.pressure = -3.4e38f;
  r.red = r.green = r.blue = r.ambient = -2147483647;
  CHECK_EQ(lora::build_data(uid.c_str(), r, data, sizeof data, &n), lora::Status::ok);
  CHECK(n <= lora::kMaxData);
  char big[lora::kMaxData + 2];
  std::memset(big, '1', sizeof big);
  char line[lora::kSendCapacity + 8];
  size_t m = 0;
  CHECK_EQ(lora::build_send(116, big, lora::kMaxData + 1, line, sizeof line, &m),
           lora::Status::too_long);
  CHECK_EQ(lora::build_send(116, big, lora::kMaxData, line, sizeof line, &m), lora::Status::ok);
  CHECK_EQ(m, size_t{16 + lora::kMaxData + 2});  // "AT+SEND=116,240," + data + CRLF
  CHECK_EQ(lora::build_send(116, "1,2", 3, line, sizeof line, &m), lora::Status::bad_config);
  CHECK_EQ(lora::build_send(116, "123", 3, line, 10, &m), lora::Status::buffer_too_small);
}

void test_boot(const json& vectors) {
  const json& boot = vectors["boot"];
  lora::Config config = config_of(boot);
  std::vector<std::string> commands = boot["commands"].get<std::vector<std::string>>();
  std::string key = boot["cpin"].get<std::string>();
  std::string uid_reply = strip_crlf(boot["uid_reply"].get<std::string>());

  {  // A2: exactly these commands, in this order; the UID as the module reports it.
    FakePort port;
    port.replies = {uid_reply, "+OK", "+OK", "+OK", "+CPIN=" + key};
    lora::Modem modem(port, config);
    char uid[lora::kUidLength + 1] = {};
    CHECK_EQ(modem.boot(uid), lora::Status::ok);
    CHECK_EQ(port.written, commands);
    CHECK_EQ(std::string(uid), boot["uid"].get<std::string>());
    CHECK(port.replies.empty());
  }
  {  // A packet from another node during boot is not taken for a reply (X-G8 on the node).
    FakePort port;
    port.replies = {"+RCV=116,3,abc,-40,9", uid_reply, "+OK", "+RCV=116,3,abc,-40,9", "+OK",
                    "+OK", "+CPIN=" + key};
    lora::Modem modem(port, config);
    char uid[lora::kUidLength + 1] = {};
    CHECK_EQ(modem.boot(uid), lora::Status::ok);
    CHECK_EQ(port.written, commands);
  }
  // X-F2: a UID that is not +UID=<24 upper-case hex> is retried, and never transmitted.
  for (const auto& bad : boot["bad_uid_replies"]) {
    FakePort port;
    std::string reply = strip_crlf(bad.get<std::string>());
    port.replies = {reply.empty() ? "?" : reply, reply.empty() ? "?" : reply, reply.empty() ? "?" : reply};
    lora::Modem modem(port, config);
    char uid[lora::kUidLength + 1] = {};
    CHECK_EQ(modem.boot(uid), lora::Status::bad_uid);
    CHECK_EQ(port.written, std::vector<std::string>(config.uid_attempts, commands[0]));
  }
  {  // A bad first answer, then a good one.
    FakePort port;
    port.replies = {"+UID=", uid_reply, "+OK", "+OK", "+OK", "+CPIN=" + key};
    lora::Modem modem(port, config);
    char uid[lora::kUidLength + 1] = {};
    CHECK_EQ(modem.boot(uid), lora::Status::ok);
    CHECK_EQ(port.written.size(), commands.size() + 1);
  }
  {  // X-F3: +ERR=n surfaces, and boot stops at the failing step.
    FakePort port;
    port.replies = {uid_reply, "+OK", "+ERR=4"};
    lora::Modem modem(port, config);
    char uid[lora::kUidLength + 1] = {};
    CHECK_EQ(modem.boot(uid), lora::Status::module_error);
    CHECK_EQ(modem.last_error(), 4);
    CHECK_EQ(std::string(modem.last_step()), std::string("AT+NETWORKID="));
    CHECK_EQ(port.written.size(), size_t{3});
  }
  {  // No answer at all.
    FakePort port;
    port.replies = {uid_reply, ""};
    lora::Modem modem(port, config);
    char uid[lora::kUidLength + 1] = {};
    CHECK_EQ(modem.boot(uid), lora::Status::timeout);
  }
  {  // The key read back differs: the peer would see garbled data.
    FakePort port;
    port.replies = {uid_reply, "+OK", "+OK", "+OK", "+CPIN=00000000000000000000000000000000"};
    lora::Modem modem(port, config);
    char uid[lora::kUidLength + 1] = {};
    CHECK_EQ(modem.boot(uid), lora::Status::mismatch);
    CHECK(std::strstr(modem.last_step(), key.c_str()) == nullptr);
  }
  {  // AT+SEND answered with +ERR=13 (data over 240 bytes) surfaces too.
    FakePort port;
    port.replies = {"+ERR=13"};
    lora::Modem modem(port, config);
    CHECK_EQ(modem.send("1|2", 3), lora::Status::module_error);
    CHECK_EQ(modem.last_error(), 13);
  }
}

void test_crc16(const json& vectors) {
  std::string text = vectors["crc16"]["text"].get<std::string>();
  char hex[8];
  std::snprintf(hex, sizeof hex, "%04X", lora::crc16(text.c_str(), text.size()));
  CHECK_EQ(std::string(hex), vectors["crc16"]["crc"].get<std::string>());
}

void test_payloads_v2(const json& vectors) {
  for (const auto& v : vectors["payloads_v2"]) {
    std::string uid = v["uid"].get<std::string>();
    lora::Identity id{static_cast<uint32_t>(std::stoul(v["boot_id"].get<std::string>(), nullptr, 16)),
                      v["counter"].get<uint32_t>()};
    char data[lora::kMaxData + 1];
    size_t n = 0;
    CHECK_EQ(lora::build_data_v2(uid.c_str(), readings_of(v), id, data, sizeof data, &n),
             lora::Status::ok);
    CHECK_EQ(n, v["data_length"].get<size_t>());
    std::string send = v["send"].get<std::string>();
    CHECK_EQ("AT+SEND=116," + std::to_string(n) + "," + std::string(data, n) + "\r\n", send);
    CHECK_EQ(std::string(data + n - 4, 4), v["crc"].get<std::string>());
    // The CRC covers everything before its own '|'.
    char hex[8];
    std::snprintf(hex, sizeof hex, "%04X", lora::crc16(data, n - 5));
    CHECK_EQ(std::string(hex), v["crc"].get<std::string>());
    CHECK_EQ(lora::build_data_v2(nullptr, readings_of(v), id, data, sizeof data, &n),
             lora::Status::bad_uid);
    CHECK_EQ(lora::build_data_v2(uid.c_str(), readings_of(v), id, data, 40, &n),
             lora::Status::buffer_too_small);
  }
}

void test_limits(const json& vectors) {
  // What the gateway and the warehouse accept is what this node can send: the HTS221's range
  // with the calibration added.
  const json& l = vectors["limits"];
  lora::Config config;
  CHECK(lora::kHts221MinC == l["sensor_temperature"][0].get<float>());
  CHECK(lora::kHts221MaxC == l["sensor_temperature"][1].get<float>());
  CHECK(config.calibration == l["calibration"].get<float>());
  CHECK(lora::calibrate(lora::kHts221MinC, config.calibration) == l["temperature"][0].get<float>());
  CHECK(lora::calibrate(lora::kHts221MaxC, config.calibration) == l["temperature"][1].get<float>());
}

void test_send_sequences(const json& vectors) {
  lora::Config config = config_of(vectors["boot"]);
  for (const auto& sequence : vectors["send_sequences"]) {
    std::fprintf(stderr, "send sequence: %s\n", sequence["name"].get<std::string>().c_str());
    FakePort port;
    lora::Modem modem(port, config);
    for (const auto& step : sequence["sends"]) {
      for (const auto& line : step.value("late", json::array())) port.late.push_back(line);
      port.replies.clear();
      for (const auto& line : step["replies"]) port.replies.push_back(line);
      port.written.clear();
      lora::Status s = modem.send("1|2", 3);
      CHECK_EQ(std::string(status_key(s)), step["status"].get<std::string>());
      CHECK_EQ(modem.last_error(), step["error"].get<int>());
      CHECK_EQ(modem.attempts(), step["attempts"].get<int>());
      // Every attempt writes the same command.
      CHECK_EQ(port.written, std::vector<std::string>(static_cast<size_t>(modem.attempts()),
                                                      "AT+SEND=116,3,1|2\r\n"));
    }
  }
}

void test_config(const json& vectors) {
  lora::Config config = config_of(vectors["boot"]);
  CHECK_EQ(lora::validate(config), lora::Status::ok);
  lora::Config empty;  // no key compiled in: refuses to boot (X-F1)
  CHECK_EQ(lora::validate(empty), lora::Status::bad_config);
  FakePort port;
  lora::Modem modem(port, empty);
  char uid[lora::kUidLength + 1] = {};
  CHECK_EQ(modem.boot(uid), lora::Status::bad_config);
  CHECK(port.written.empty());
  lora::Config c = config;
  c.cpin[31] = '\0';
  CHECK_EQ(lora::validate(c), lora::Status::bad_config);
  c = config;
  c.cpin[0] = 'a';
  CHECK_EQ(lora::validate(c), lora::Status::bad_config);
  c = config;
  c.network_id = 17;
  CHECK_EQ(lora::validate(c), lora::Status::bad_config);
  c = config;
  c.period_ms = 0;
  CHECK_EQ(lora::validate(c), lora::Status::bad_config);
}

void test_schedule() {
  lora::Schedule s(5000, 1000);
  CHECK(s.due(1000));
  CHECK(!s.due(1001));
  CHECK(!s.due(5999));
  CHECK(s.due(6003));   // work time does not shift the next slot (X-F8)
  CHECK(!s.due(10999));
  CHECK(s.due(11000));
  CHECK(s.due(40000));  // after a stall, one send and a fresh start
  CHECK(!s.due(44999));
  CHECK(s.due(45000));
  lora::Schedule w(5000, 0xFFFFF000u);  // millis() wraps after 49.7 days
  CHECK(w.due(0xFFFFF000u));
  CHECK(!w.due(0x00000100u));
  CHECK(w.due(0x00000388u));
  CHECK(!w.due(0x00000389u));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s test_vectors.json\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", argv[1]);
    return 2;
  }
  json vectors = json::parse(in);
  test_float_format(vectors);
  test_calibration(vectors);
  test_payloads(vectors);
  test_payload_errors(vectors);
  test_boot(vectors);
  test_config(vectors);
  test_schedule();
  test_crc16(vectors);
  test_payloads_v2(vectors);
  test_limits(vectors);
  test_send_sequences(vectors);
  std::printf("%d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
