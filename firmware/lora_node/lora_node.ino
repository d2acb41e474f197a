// LoRa sensor node: Arduino Nano 33 BLE Sense (nRF52840, Arduino mbed core) with a REYAX RYLR896
// on Serial1. Every period (5 s by default) it reads temperature (calibrated), humidity,
// pressure and colour/ambient light and sends them with AT+SEND as payload format 2,
// uid|t|h|p|r|g|b|a|2|<boot id>|<counter>|<crc>: a random id drawn at each boot, a counter
// within the boot and a CRC-16, so the lakehouse can tell one reading from its copies.
//
// The formatting, the AT sequence and the checks live in src/lora (portable, host-tested);
// this file only wires them to the board. Copy secrets.example.h to secrets.h and set the
// network's key there: there is no default key (X-F1). Libraries: Arduino_HTS221,
// Arduino_LPS22HB, Arduino_APDS9960.
#include <Arduino_APDS9960.h>
#include <Arduino_HTS221.h>
#include <Arduino_LPS22HB.h>

#include "secrets.h"  // defines LORA_CPIN "<32 hex digits>"
#include "src/lora/node.h"

namespace {

constexpr uint32_t kDebugBaud = 9600;
constexpr uint32_t kModuleBaud = 115200;
constexpr int kSensorAttempts = 5;
constexpr uint32_t kWatchdogSeconds = 30;

lora::Config config;
char uid[lora::kUidLength + 1];

// Serial1 as the library's Port: write bytes, read one CRLF line within a timeout.
class ModulePort : public lora::Port {
 public:
  void write(const char* data, size_t length) override {
    Serial1.write(reinterpret_cast<const uint8_t*>(data), length);
  }
  int read_line(char* buf, size_t capacity, uint32_t timeout_ms) override {
    size_t n = 0;
    const uint32_t start = millis();
    for (;;) {
      int c = Serial1.read();
      if (c < 0) {
        // With timeout 0 this takes only what is already waiting (the modem's drain).
        if (millis() - start >= timeout_ms) break;
        continue;
      }
      if (c == '\n') {
        if (n > 0 && buf[n - 1] == '\r') --n;
        buf[n] = '\0';
        return static_cast<int>(n);
      }
      if (n + 1 < capacity) buf[n++] = static_cast<char>(c);
    }
    return -1;
  }
};

ModulePort port;
lora::Modem modem(port, config);
lora::Schedule* schedule = nullptr;
lora::Identity identity{0, 0};

// A boot id from the nRF52840's hardware random number generator (thermal noise).
uint32_t random_boot_id() {
  uint32_t id = 0;
  NRF_RNG->CONFIG = RNG_CONFIG_DERCEN_Enabled << RNG_CONFIG_DERCEN_Pos;
  NRF_RNG->TASKS_START = 1;
  for (int i = 0; i < 4; ++i) {
    NRF_RNG->EVENTS_VALRDY = 0;
    while (NRF_RNG->EVENTS_VALRDY == 0) {
    }
    id = (id << 8) | (NRF_RNG->VALUE & 0xFF);
  }
  NRF_RNG->TASKS_STOP = 1;
  return id;
}

void watchdog_start() {
  NRF_WDT->CONFIG = WDT_CONFIG_SLEEP_Run << WDT_CONFIG_SLEEP_Pos;
  NRF_WDT->CRV = kWatchdogSeconds * 32768;
  NRF_WDT->RREN = WDT_RREN_RR0_Msk;
  NRF_WDT->TASKS_START = 1;
}

void watchdog_feed() { NRF_WDT->RR[0] = WDT_RR_RR_Reload; }

// X-F4: a sensor that does not start is retried, then the board resets, instead of hanging.
template <typename Begin>
void start_sensor(const char* name, Begin begin) {
  for (int attempt = 1; attempt <= kSensorAttempts; ++attempt) {
    if (begin()) return;
    Serial.print("Failed to initialize ");
    Serial.print(name);
    Serial.print(", attempt ");
    Serial.println(attempt);
    delay(1000);
  }
  NVIC_SystemReset();
}

bool read_color(int* r, int* g, int* b, int* a) {
  const uint32_t start = millis();
  while (!APDS.colorAvailable()) {
    if (millis() - start > 1000) return false;
    delay(5);
  }
  APDS.readColor(*r, *g, *b, *a);
  return true;
}

}  // namespace

void setup() {
  Serial.begin(kDebugBaud);
  Serial1.begin(kModuleBaud);
  delay(1000);
  watchdog_start();

  snprintf(config.cpin, sizeof config.cpin, "%s", LORA_CPIN);
  identity.boot_id = random_boot_id();
  lora::Status status;
  while ((status = modem.boot(uid)) != lora::Status::ok) {
    // The key is never printed; only the step and the module's error number.
    Serial.print("Module set-up failed at ");
    Serial.print(modem.last_step());
    Serial.print(": ");
    Serial.print(lora::status_name(status));
    Serial.print(" ");
    Serial.println(modem.last_error());
    if (status == lora::Status::bad_config) {
      for (;;) delay(1000);  // the watchdog resets; a rebuild with a valid key is needed
    }
    delay(2000);
    watchdog_feed();
  }
  Serial.print("UID: ");
  Serial.println(uid);

  start_sensor("humidity temperature sensor", [] { return HTS.begin() != 0; });
  start_sensor("pressure sensor", [] { return BARO.begin() != 0; });
  BARO.readPressure();  // the first reading after start-up is off
  delay(1000);
  start_sensor("color sensor", [] { return APDS.begin() != 0; });

  static lora::Schedule every(config.period_ms, millis());
  schedule = &every;
}

void loop() {
  watchdog_feed();
  if (!schedule->due(millis())) {
    delay(10);
    return;
  }
  lora::Readings readings{};
  readings.temperature = lora::calibrate(HTS.readTemperature(), config.calibration);
  readings.humidity = HTS.readHumidity();
  readings.pressure = BARO.readPressure();  // kPa
  int r = 0, g = 0, b = 0, a = 0;
  if (!read_color(&r, &g, &b, &a)) {
    Serial.println("Color sensor timed out; reading skipped");
    return;
  }
  readings.red = r;
  readings.green = g;
  readings.blue = b;
  readings.ambient = a;

  char data[lora::kMaxData + 1];
  size_t length = 0;
  lora::Status status = lora::build_data_v2(uid, readings, identity, data, sizeof data, &length);
  if (status != lora::Status::ok) {  // X-F6: a non-finite reading is not sent
    Serial.print("Reading skipped: ");
    Serial.println(lora::status_name(status));
    return;
  }
  // The counter moves on per reading, sent or not, so a gap downstream is a lost packet.
  ++identity.counter;
  status = modem.send(data, length);
  Serial.print("Payload: ");
  Serial.println(data);
  if (status != lora::Status::ok) {
    Serial.print("AT+SEND failed: ");
    Serial.print(lora::status_name(status));
    Serial.print(" ");
    Serial.println(modem.last_error());
  }
  Serial.println("----------");
}
