/* wire.h - everything about bytes on a seedmesh peer link, as pure code over
 * buffers: the authenticated handshake, the encrypted frame codec and the
 * msgpack codec of the peer messages. No sockets, no event loop, no clock.
 * The wire format and its security properties are described in
 * docs/protocol.md.
 *
 * The structs below are embedded by the caller (init/cleanup); their fields
 * are private to node/wire and only shown so they can live on the stack or
 * inside a connection object. */
#ifndef SM_WIRE_H
#define SM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* ----------------------------------------------------------------- limits */
#define WIRE_PROTOCOL_VERSION 2
#define WIRE_MAGIC "SEEDMESH"
#define WIRE_MAGIC_BYTES 8

#define WIRE_KEY_BYTES 32
#define WIRE_ID_BYTES 32 /* manifest id: BLAKE2b-256 */

#define WIRE_FRAME_HEADER_BYTES 4 /* big-endian ciphertext length */
#define WIRE_FRAME_MAC_BYTES 16
#define WIRE_FRAME_OVERHEAD (WIRE_FRAME_HEADER_BYTES + WIRE_FRAME_MAC_BYTES)

/* Largest chunk the protocol carries (raw bytes) and the largest frame
 * payload a session accepts by default: one chunk plus room for the message
 * envelope and a delta's bookkeeping. */
#define WIRE_CHUNK_MAX (4u << 20)
#define WIRE_FRAME_PAYLOAD_DEFAULT (WIRE_CHUNK_MAX + (64u << 10))
/* Absolute ceiling for any configured payload cap. */
#define WIRE_FRAME_PAYLOAD_LIMIT (64u << 20)

/* Message field limits (checked by the decoder, obeyed by the encoder). */
#define WIRE_BITFIELD_MAX_BITS (8u << 20)       /* 1 MiB of bits */
#define WIRE_INDEX_MAX (WIRE_BITFIELD_MAX_BITS - 1)
#define WIRE_DELTA_MAX_PAGES 4096               /* 8-byte page hashes */
#define WIRE_PAGE_HASH_BYTES 8
#define WIRE_PAGE_SIZE_MIN 512
#define WIRE_PAGE_SIZE_MAX (64u << 10)
#define WIRE_MANIFEST_PART_MAX WIRE_CHUNK_MAX
#define WIRE_MANIFEST_PARTS_MAX (1u << 20)
#define WIRE_GOODBYE_TEXT_MAX 200
#define WIRE_GOSSIP_MAX (1u << 20) /* one gossip push-pull message */

/* -------------------------------------------------------------- frames
 * A frame is a 4-byte big-endian length L, then L bytes of XChaCha20-Poly1305
 * ciphertext (payload + 16-byte tag). The nonce is an implicit per-direction
 * counter, the length header is the associated data. */

struct wire_frame_encoder {
  uint8_t key[WIRE_KEY_BYTES];
  uint64_t counter;
  size_t max_payload;
};

struct wire_frame_decoder {
  uint8_t key[WIRE_KEY_BYTES];
  uint64_t counter;
  size_t max_payload;
  uint8_t header[WIRE_FRAME_HEADER_BYTES];
  size_t header_have;
  size_t body_len;  /* ciphertext bytes of the current frame, tag included */
  size_t body_have;
  uint8_t *buf;     /* owned; holds the current frame's body / plaintext */
  size_t buf_cap;
  int error;        /* sticky: once a frame fails, every later call fails */
};

/* Initialises an encoder for one direction of a link. The key normally comes
 * from the handshake (wire_handshake_session); tests and fuzzers may pass a
 * fixed one. max_payload is the largest plaintext this side will send
 * (at most WIRE_FRAME_PAYLOAD_LIMIT); the first frame uses counter 0.
 * Returns SM_EINVAL on a bad max_payload. */
int wire_frame_encoder_init(struct wire_frame_encoder *enc,
                            const uint8_t key[WIRE_KEY_BYTES], size_t max_payload);
/* Wipes the key. */
void wire_frame_encoder_cleanup(struct wire_frame_encoder *enc);

/* Seals payload into one frame at out (out_cap bytes), setting *out_len to
 * payload_len + WIRE_FRAME_OVERHEAD. To avoid a copy, build the plaintext at
 * out + WIRE_FRAME_HEADER_BYTES and pass that pointer as payload: it is then
 * encrypted in place. Any other overlap of payload and out aborts.
 * Errors: SM_ETOOBIG (payload over the encoder's cap), SM_EINVAL (out_cap too
 * small), SM_ESTATE (nonce counter exhausted). Nothing is written and the
 * counter does not move on error. */
int wire_frame_encode(struct wire_frame_encoder *enc, const uint8_t *payload,
                      size_t payload_len, uint8_t *out, size_t out_cap,
                      size_t *out_len);

/* Initialises a decoder for the receiving direction. max_payload is the hard
 * cap (at most WIRE_FRAME_PAYLOAD_LIMIT): a length header announcing more is
 * refused with SM_ETOOBIG before any body byte is read or buffer allocated.
 * The body buffer is allocated on demand with sm_malloc, never beyond the
 * cap. Returns SM_EINVAL on a bad max_payload. */
int wire_frame_decoder_init(struct wire_frame_decoder *dec,
                            const uint8_t key[WIRE_KEY_BYTES], size_t max_payload);
/* Wipes the key and frees the buffer. */
void wire_frame_decoder_cleanup(struct wire_frame_decoder *dec);

/* Feeds bytes read from the link. Consumes input up to the end of the first
 * complete frame and returns 0 with *out_payload / *out_payload_len set to its
 * plaintext, or consumes all input and returns SM_EMORE. *out_consumed says
 * how much input was used either way; call again with the rest. The payload
 * points into the decoder's buffer and stays valid until the next call to
 * wire_frame_decode, wire_frame_decoder_trim or _cleanup.
 * Errors (the link must be dropped; the decoder then keeps failing):
 * SM_ETOOBIG length header over the cap, SM_EMALFORMED length too short to
 * hold a tag, SM_ECRYPTO frame tampered, replayed, reordered or cut,
 * SM_ENOMEM, SM_ESTATE counter exhausted. */
int wire_frame_decode(struct wire_frame_decoder *dec, const uint8_t *in,
                      size_t in_len, size_t *out_consumed,
                      const uint8_t **out_payload, size_t *out_payload_len);

/* Bytes of an incomplete frame held by the decoder. Non-zero at end of
 * stream means the peer's last frame was truncated. */
size_t wire_frame_decoder_pending(const struct wire_frame_decoder *dec);

/* Releases the body buffer when no frame is in progress (e.g. on an idle
 * link); it is reallocated on the next frame. Invalidates the last payload. */
void wire_frame_decoder_trim(struct wire_frame_decoder *dec);

/* ------------------------------------------------------------ handshake
 * Both sides send HELLO {magic, version, ephemeral X25519 key} at once, derive
 * one key per direction from the X25519 secret and the transcript of both
 * HELLOs, then send AUTH {static ed25519 key, signature over the transcript
 * and its role} as the first encrypted frame. The handshake is complete when
 * the peer's AUTH verified and its key is trusted (and matches the pin). */

enum wire_role {
  WIRE_ROLE_INITIATOR = 0, /* dialed the connection */
  WIRE_ROLE_RESPONDER = 1, /* accepted it */
};

struct wire_handshake_config {
  enum wire_role role;
  const struct sm_identity *identity; /* borrowed; must outlive the handshake */
  const struct sm_trust *trust;       /* borrowed; must outlive the handshake */
  /* NULL, or the one peer key this side accepts (a node learned from
   * gossip); checked in addition to the trust set. Copied. */
  const uint8_t *pinned_peer_key;
  /* NULL: fresh random ephemeral key (always in production). Otherwise the
   * 32-byte X25519 secret to use, so simulations replay. Copied. */
  const uint8_t *ephemeral_secret;
};

/* HELLO: magic(8) version(2) body length(2) ephemeral key(32). */
#define WIRE_HELLO_BYTES (WIRE_MAGIC_BYTES + 4 + WIRE_KEY_BYTES)
#define WIRE_AUTH_BYTES (SM_PUBKEY_BYTES + SM_SIG_BYTES)
#define WIRE_HANDSHAKE_OUT_MAX (WIRE_HELLO_BYTES + WIRE_AUTH_BYTES + WIRE_FRAME_OVERHEAD)

struct wire_handshake {
  int state;
  int error;
  enum wire_role role;
  const struct sm_identity *identity;
  const struct sm_trust *trust;
  int has_pin;
  uint8_t pin[SM_PUBKEY_BYTES];
  uint8_t eph_secret[WIRE_KEY_BYTES];
  uint8_t hello_out[WIRE_HELLO_BYTES];
  uint8_t hello_in[WIRE_HELLO_BYTES];
  size_t hello_in_have;
  uint8_t transcript[32];
  uint8_t peer_key[SM_PUBKEY_BYTES];
  struct wire_frame_encoder tx;
  struct wire_frame_decoder rx;
  uint8_t out[WIRE_HANDSHAKE_OUT_MAX];
  size_t out_len;
  char reason[160];
};

/* Starts a handshake and queues our HELLO (take it with
 * wire_handshake_output). Errors: SM_EINVAL (missing identity or trust),
 * SM_ECRYPTO (bad ephemeral secret). Call wire_handshake_cleanup in every
 * case. */
int wire_handshake_init(struct wire_handshake *hs,
                        const struct wire_handshake_config *cfg);

/* Feeds bytes received from the peer. Returns 0 once the peer is
 * authenticated (*out_consumed then excludes any application frames that
 * followed its AUTH: hand those to the session's decoder), SM_EMORE when all
 * input was used and more is needed, or a negative error; after an error the
 * link must be dropped and wire_handshake_reason() explains it:
 * SM_EPROTO not a seedmesh peer / malformed / reflected / self-connection,
 * SM_EVERSION peer speaks another protocol version,
 * SM_ECRYPTO handshake bytes altered in flight (or a bad X25519 key),
 * SM_EBADSIG AUTH signature does not verify,
 * SM_EUNTRUSTED peer key not in the trust set or not the pinned key,
 * SM_ETOOBIG / SM_EMALFORMED an oversized or short AUTH frame, SM_ENOMEM.
 * After every call, send what wire_handshake_output returns (a successful
 * completion may still leave our AUTH to send). */
int wire_handshake_read(struct wire_handshake *hs, const uint8_t *in,
                        size_t in_len, size_t *out_consumed);

/* Hands out the bytes queued for the peer (possibly none) and forgets them.
 * The pointer stays valid until the next call on hs. */
void wire_handshake_output(struct wire_handshake *hs, const uint8_t **out_bytes,
                           size_t *out_len);

/* 1 once the peer is authenticated, else 0. */
int wire_handshake_done(const struct wire_handshake *hs);

/* One line explaining the last failure ("" if none). Owned by hs. */
const char *wire_handshake_reason(const struct wire_handshake *hs);

/* Wipes every secret and frees the handshake's buffers. */
void wire_handshake_cleanup(struct wire_handshake *hs);

/* An established link: the peer's identity and one codec per direction. */
struct wire_session {
  uint8_t peer_key[SM_PUBKEY_BYTES];
  struct wire_frame_encoder tx;
  struct wire_frame_decoder rx;
};

/* Moves the keys of a completed handshake into *out, with max_payload as the
 * frame cap of both directions, and wipes them from hs. Errors: SM_ESTATE
 * (handshake not done, or already taken), SM_EINVAL (bad cap). The caller
 * calls wire_session_cleanup on success. */
int wire_handshake_session(struct wire_handshake *hs, size_t max_payload,
                           struct wire_session *out);

void wire_session_cleanup(struct wire_session *s);

/* ------------------------------------------------------------- messages
 * One msgpack array per frame: [type, fields...], packed and unpacked with
 * msgpack-c. Decoding writes into a struct wire_msg whose byte fields point
 * into the decoded buffer (zero copy; an empty one is NULL): keep the buffer
 * alive while the message is used. */

enum wire_msg_type {
  WIRE_MSG_BITFIELD = 1,
  WIRE_MSG_HAVE = 2,
  WIRE_MSG_REQUEST = 3,
  WIRE_MSG_CANCEL = 4,
  WIRE_MSG_CHUNK = 5,
  WIRE_MSG_REJECT = 6,
  WIRE_MSG_MANIFEST_GET = 7,
  WIRE_MSG_MANIFEST_PART = 8,
  WIRE_MSG_PING = 9,
  WIRE_MSG_PONG = 10,
  WIRE_MSG_GOODBYE = 11,
  WIRE_MSG_GOSSIP = 12,
};
#define WIRE_MSG_TYPE_MAX 12

enum wire_encoding {
  WIRE_ENC_RAW = 0,
  WIRE_ENC_ZSTD = 1,
  WIRE_ENC_DELTA = 2,
};
#define WIRE_ENC_MAX 2

enum wire_reject_kind {
  WIRE_REJECT_KIND_CHUNK = 0,    /* index is a chunk index */
  WIRE_REJECT_KIND_MANIFEST = 1, /* index is a manifest part */
};

enum wire_reject_reason {
  WIRE_REJECT_BUSY = 1,        /* no upload slot now; retry later */
  WIRE_REJECT_NOT_HAVE = 2,    /* we do not hold it */
  WIRE_REJECT_ELSEWHERE = 3,   /* ask another peer (donor protection) */
  WIRE_REJECT_UNKNOWN = 4,     /* unknown manifest */
  WIRE_REJECT_CHOKED = 5,      /* this peer gets no uploads from us */
  WIRE_REJECT_SHUTDOWN = 6,    /* we are leaving */
};
#define WIRE_REJECT_MAX 6

enum wire_goodbye_reason {
  WIRE_BYE_NORMAL = 0,     /* done with this peer */
  WIRE_BYE_SHUTDOWN = 1,   /* node is stopping */
  WIRE_BYE_PROTOCOL = 2,   /* peer broke the protocol */
  WIRE_BYE_BAD_DATA = 3,   /* peer sent data that failed verification */
  WIRE_BYE_DUPLICATE = 4,  /* another link to the same node exists */
  WIRE_BYE_TOO_SLOW = 5,   /* peer was not worth the slot */
  WIRE_BYE_OVERLOADED = 6, /* too many peers */
};
#define WIRE_BYE_MAX 6

/* Announces which chunks of a manifest the sender holds. The first BITFIELD
 * for a manifest on a link adds that manifest's transfer to the link (a link
 * carries every transfer the two nodes share). bit i (MSB first in each byte) = chunk
 * i; bits_len == ceil(nbits / 8) and the pad bits are zero. */
struct wire_msg_bitfield {
  uint8_t manifest_id[WIRE_ID_BYTES];
  uint32_t nbits;
  const uint8_t *bits;
  size_t bits_len;
};

/* The sender now holds chunk index of manifest manifest_id. */
struct wire_msg_have {
  uint8_t manifest_id[WIRE_ID_BYTES];
  uint32_t index;
};

/* Asks for one chunk. With page_size != 0, page_hashes holds npages 8-byte
 * hashes of the requester's old copy of the chunk (page by page), so the
 * answer may be a DELTA against it; without, page_size = npages = 0. */
struct wire_msg_request {
  uint8_t manifest_id[WIRE_ID_BYTES];
  uint32_t index;
  uint32_t page_size;
  uint32_t npages;
  const uint8_t *page_hashes; /* npages * WIRE_PAGE_HASH_BYTES */
};

struct wire_msg_cancel {
  uint8_t manifest_id[WIRE_ID_BYTES];
  uint32_t index;
};

/* One chunk: raw_len is its size once decoded; data is raw (data_len ==
 * raw_len), zstd (data_len <= raw_len) or a delta against the requester's old
 * copy. The receiver verifies the decoded bytes against the chunk id. */
struct wire_msg_chunk {
  uint8_t manifest_id[WIRE_ID_BYTES];
  uint32_t index;
  uint32_t encoding; /* enum wire_encoding */
  uint32_t raw_len;
  const uint8_t *data;
  size_t data_len;
};

struct wire_msg_reject {
  uint32_t kind; /* enum wire_reject_kind */
  uint8_t manifest_id[WIRE_ID_BYTES];
  uint32_t index;
  uint32_t reason; /* enum wire_reject_reason */
};

/* Manifests travel in parts: part 0 is the signed root, then segments. */
struct wire_msg_manifest_get {
  uint8_t manifest_id[WIRE_ID_BYTES];
  uint32_t part;
};

struct wire_msg_manifest_part {
  uint8_t manifest_id[WIRE_ID_BYTES];
  uint32_t part;
  uint32_t nparts; /* part < nparts */
  const uint8_t *data;
  size_t data_len;
};

/* PING and PONG: the PONG echoes the token. */
struct wire_msg_ping {
  uint64_t token;
};

struct wire_msg_goodbye {
  uint32_t reason;    /* enum wire_goodbye_reason */
  const char *text;   /* not NUL-terminated; may be empty */
  size_t text_len;
};

/* A gossip push-pull message (already sealed by gossip/), carried over the
 * link because push-pull needs a reliable stream. */
struct wire_msg_gossip {
  const uint8_t *data;
  size_t data_len;
};

struct wire_msg {
  enum wire_msg_type type;
  union {
    struct wire_msg_bitfield bitfield;
    struct wire_msg_have have;
    struct wire_msg_request request;
    struct wire_msg_cancel cancel;
    struct wire_msg_chunk chunk;
    struct wire_msg_reject reject;
    struct wire_msg_manifest_get manifest_get;
    struct wire_msg_manifest_part manifest_part;
    struct wire_msg_ping ping; /* also PONG */
    struct wire_msg_goodbye goodbye;
    struct wire_msg_gossip gossip;
  } u;
};

/* Decodes one message that spans exactly buf (a frame's payload); byte
 * fields of *out point into buf. The only allocation is msgpack-c's zone for
 * the object tree (one small chunk for a valid message, O(len) at worst),
 * freed before returning. *out is zeroed on error.
 * Errors: SM_EMALFORMED (not well-formed msgpack, not the expected shape,
 * truncated, trailing bytes; checked before any field), SM_EPROTO (unknown
 * type, a field out of range, bitfield length not matching nbits),
 * SM_ETOOBIG (a byte field over its cap), SM_ENOMEM. */
int wire_msg_decode(const uint8_t *buf, size_t len, struct wire_msg *out);

/* Encodes msg into out (out_cap bytes), setting *out_len. Refuses messages
 * the decoder would refuse (SM_EINVAL) and a too small buffer (SM_ETOOBIG).
 * Nothing is allocated. */
int wire_msg_encode(const struct wire_msg *msg, uint8_t *out, size_t out_cap,
                    size_t *out_len);

/* Exact encoded size of msg (0 if it is invalid): size a buffer, or add
 * WIRE_FRAME_OVERHEAD for a whole frame. */
size_t wire_msg_encoded_size(const struct wire_msg *msg);

/* Encodes a CHUNK message without its data bytes: *out_len bytes of header
 * after which the caller places exactly data_len bytes (e.g. read from disk
 * straight into the frame buffer). chunk->data is ignored. Errors as
 * wire_msg_encode. */
int wire_msg_chunk_head_encode(const struct wire_msg_chunk *chunk, size_t data_len,
                               uint8_t *out, size_t out_cap, size_t *out_len);

/* Name of a message type ("CHUNK"), "?" for an unknown one. */
const char *wire_msg_type_name(int type);

#endif
