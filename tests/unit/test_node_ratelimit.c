/* test_node_ratelimit.c - the node's token buckets (--max-upload,
 * --max-download, seedmesh rate) driven the way link.c and transfer.c
 * consult them, on a simulated clock: over a few hundred MiB the bytes let
 * through stay within the cap plus one second of burst, also across a rate
 * change at run time, and reservations settled to fewer bytes are given
 * back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/node_internal.h"

#define MIB (1024.0 * 1024.0)

/* Download side as link.c does it: each read of `read_bytes` is charged
 * after it arrived; a non-zero wait pauses reading for that long (the resume
 * timer re-checks). Reads never wait for the network here, so only the
 * bucket holds them back. Returns the simulated ms when `total` bytes were read. */
static uint64_t download(struct node__bucket *b, uint64_t start, uint64_t total,
                         uint64_t read_bytes) {
  uint64_t now = start, got = 0;
  while (got < total) {
    uint64_t wait = node__bucket_wait(b, now);
    if (wait > 0) {
      now += wait;
      continue;
    }
    got += read_bytes; /* the worst case: the next read is ready at once */
    node__bucket_take(b, read_bytes, now);
  }
  return now;
}

/* Upload side as transfer.c does it: a chunk reserves its raw size when it
 * starts (only while the bucket is not in debt), then is settled to the
 * compressed size that really goes on the network. Returns the end ms;
 * *sent gets the network bytes. */
static uint64_t upload(struct node__bucket *b, uint64_t start, uint64_t chunks, uint64_t raw,
                       uint64_t wire, uint64_t *sent) {
  uint64_t now = start;
  *sent = 0;
  for (uint64_t i = 0; i < chunks;) {
    if (node__bucket_wait(b, now) > 0) {
      now += 100; /* paced uploads are drained on the 100 ms tick */
      continue;
    }
    node__bucket_take(b, raw, now);
    node__bucket_settle(b, raw, wire);
    *sent += wire;
    i++;
  }
  return now;
}

static void assert_within_cap(uint64_t bytes, uint64_t ms, uint64_t rate) {
  double secs = (double)ms / 1000.0;
  double allowed = (double)rate * secs * 1.10 + (double)rate; /* + one burst */
  printf("# %.1f MiB in %.2f s: %.3f MiB/s, cap %.3f MiB/s\n", (double)bytes / MIB, secs,
         (double)bytes / MIB / secs, (double)rate / MIB);
  assert_true((double)bytes <= allowed);
  /* and not far below either: the simulation has no other bottleneck */
  assert_true((double)bytes >= (double)rate * secs * 0.90);
}

static void test_download_honours_cap(void **state) {
  (void)state;
  static const uint64_t reads[] = {1, 4096, 65536, 256 * 1024, 8u << 20};
  for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
    struct node__bucket b;
    uint64_t rate = 6u << 20, total = 300u << 20;
    if (reads[i] < 4096) {
      total = 1u << 20; /* byte-sized reads: keep the loop short */
      rate = 64u << 10;
    }
    node__bucket_init(&b, rate, 5000);
    uint64_t end = download(&b, 5000, total, reads[i]);
    assert_within_cap(total, end - 5000, rate);
  }
}

static void test_upload_settled_to_wire_bytes(void **state) {
  (void)state;
  struct node__bucket b;
  uint64_t rate = 6u << 20, sent = 0;
  node__bucket_init(&b, rate, 0);
  /* 1 MiB chunks that compress to 0.48 MiB: the cap counts the latter */
  uint64_t end = upload(&b, 0, 600, 1u << 20, 503316, &sent);
  assert_within_cap(sent, end, rate);
  /* a failed upload gives its whole reservation back */
  node__bucket_init(&b, rate, 0);
  node__bucket_take(&b, 3u << 20, 0);
  node__bucket_settle(&b, 3u << 20, 0);
  assert_int_equal(node__bucket_take(&b, 6u << 20, 0), 0);
  assert_true(node__bucket_wait(&b, 0) == 0);
  assert_true(node__bucket_take(&b, 1, 0) > 0); /* now one byte in debt */
}

static void test_rate_changed_at_run_time(void **state) {
  (void)state;
  struct node__bucket b;
  node__bucket_init(&b, 0, 0); /* started without a cap */
  assert_int_equal(node__bucket_take(&b, 1u << 30, 10), 0);
  assert_int_equal(node__bucket_wait(&b, 10), 0);
  /* seedmesh rate --max-download 4M after an hour uncapped: at most one
   * second of burst, then 4 MiB/s */
  uint64_t t = 3600u * 1000u;
  node__bucket_set_rate(&b, 4u << 20, t);
  uint64_t end = download(&b, t, 200u << 20, 256 * 1024);
  assert_within_cap(200u << 20, end - t, 4u << 20);
  /* lowered to 1M: the tokens left at 4M do not outlast one second */
  node__bucket_set_rate(&b, 1u << 20, end);
  uint64_t end2 = download(&b, end, 40u << 20, 256 * 1024);
  assert_within_cap(40u << 20, end2 - end, 1u << 20);
  /* raised to 16M while in debt: the debt is paid at the new rate */
  node__bucket_take(&b, 8u << 20, end2);
  uint64_t wait_old = node__bucket_wait(&b, end2);
  node__bucket_set_rate(&b, 16u << 20, end2);
  assert_true(node__bucket_wait(&b, end2) * 8 <= wait_old);
  uint64_t end3 = download(&b, end2, 300u << 20, 256 * 1024);
  assert_within_cap(300u << 20, end3 - end2, 16u << 20);
  /* back to none: nothing waits */
  node__bucket_take(&b, 64u << 20, end3);
  node__bucket_set_rate(&b, 0, end3);
  assert_int_equal(node__bucket_wait(&b, end3), 0);
  assert_int_equal(node__bucket_take(&b, 1u << 30, end3), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_download_honours_cap),
      cmocka_unit_test(test_upload_settled_to_wire_bytes),
      cmocka_unit_test(test_rate_changed_at_run_time),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
