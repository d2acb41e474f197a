// A bare-metal image that links every part of the node library, for the Cortex-M4F build and
// size check (make size). The UART is a stub register; sizes are the library's own plus what
// it pulls from newlib-nano (snprintf with float support), not the Arduino mbed core.
#include <string.h>

#include "lora/node.h"

namespace {

volatile char uart_tx;
volatile char uart_rx;
volatile uint32_t ticks;

class Uart : public lora::Port {
 public:
  void write(const char* data, size_t length) override {
    for (size_t i = 0; i < length; ++i) uart_tx = data[i];
  }
  int read_line(char* buf, size_t capacity, uint32_t timeout_ms) override {
    size_t n = 0;
    for (uint32_t start = ticks; ticks - start < timeout_ms;) {
      char c = uart_rx;
      if (c == '\n') {
        if (n > 0 && buf[n - 1] == '\r') --n;
        buf[n] = '\0';
        return static_cast<int>(n);
      }
      if (c != 0 && n + 1 < capacity) buf[n++] = c;
    }
    return -1;
  }
};

}  // namespace

int main() {
  Uart uart;
  static lora::Config config;
  memcpy(config.cpin, "0123456789ABCDEF0123456789ABCDEF", lora::kCpinLength);
  lora::Modem modem(uart, config);
  char uid[lora::kUidLength + 1];
  if (modem.boot(uid) != lora::Status::ok) return 1;
  lora::Schedule schedule(config.period_ms, ticks);
  lora::Identity identity{static_cast<uint32_t>(ticks), 0};
  for (;;) {
    if (!schedule.due(ticks)) continue;
    lora::Readings r{lora::calibrate(27.6f, config.calibration), 45.73f, 98.65f, 281, 667, 650,
                     1057};
    char data[lora::kMaxData + 1];
    size_t n = 0;
    // Payload format 2, as the sketch sends it.
    if (lora::build_data_v2(uid, r, identity, data, sizeof data, &n) == lora::Status::ok) {
      modem.send(data, n);
    }
    ++identity.counter;
  }
}
