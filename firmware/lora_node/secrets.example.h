// Copy to secrets.h (not committed) and set the AES-128 key of your LoRa network:
// 32 hex digits, 0-9 and A-F, the same on the gateway (LORA_CPIN or --cpin-file).
#pragma once
#define LORA_CPIN "<32 upper-case hex digits>"
