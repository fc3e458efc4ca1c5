/* wire_internal.h - helpers shared by the files of node/wire (the frame
 * nonce). Not part of the public API. */
#ifndef SM_WIRE_INTERNAL_H
#define SM_WIRE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "node/wire/wire.h"

#define WIRE__NONCE_BYTES 24

/* Nonce of frame number counter: the counter little-endian in the first 8
 * bytes, the rest zero. Each direction has its own key, so (key, nonce) never
 * repeats. */
void wire__nonce(uint64_t counter, uint8_t out[WIRE__NONCE_BYTES]);

#endif
