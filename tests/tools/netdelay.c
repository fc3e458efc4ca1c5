/* netdelay.c - sm-netdelay, a fixed one-way delay for the cluster harness
 * (tests/cluster/) on kernels without the netem qdisc: it holds every packet
 * read from a tun device for DELAY milliseconds, then writes it back into the
 * kernel, which forwards it on (policy routing in tests/cluster/net.sh sends
 * a namespace's outgoing traffic through the tun device once).
 *
 * The delay is constant, so packets leave in the order they came: the queue
 * is a FIFO ring. A full ring drops the newest packet, like a tail-drop
 * queue. It never parses packets; it only copies them.
 *
 * usage: sm-netdelay --dev NAME --delay-ms N [--slots N]
 * (the tun device NAME must exist: ip tuntap add dev NAME mode tun) */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define ND_PACKET_MAX 2048u
#define ND_SLOTS_DEFAULT 8192u
#define ND_SLOTS_MAX 262144u

struct nd_slot {
  uint64_t due_us;
  uint32_t len;
  uint8_t data[ND_PACKET_MAX];
};

static volatile sig_atomic_t nd_stop;

static void nd_on_signal(int sig) {
  (void)sig;
  nd_stop = 1;
}

static uint64_t nd_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int nd_tun_open(const char *name) {
  struct ifreq ifr;
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "sm-netdelay: /dev/net/tun: %s\n", strerror(errno));
    return -1;
  }
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    fprintf(stderr, "sm-netdelay: attach to tun device %s: %s (create it first: ip tuntap add dev %s mode tun)\n",
            name, strerror(errno), name);
    close(fd);
    return -1;
  }
  return fd;
}

int main(int argc, char **argv) {
  static const struct option options[] = {
      {"dev", required_argument, NULL, 'd'},
      {"delay-ms", required_argument, NULL, 'm'},
      {"slots", required_argument, NULL, 's'},
      {NULL, 0, NULL, 0},
  };
  const char *dev = NULL;
  long delay_ms = -1;
  long slots = ND_SLOTS_DEFAULT;
  int c;
  while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
    char *end = NULL;
    switch (c) {
    case 'd': dev = optarg; break;
    case 'm': delay_ms = strtol(optarg, &end, 10); break;
    case 's': slots = strtol(optarg, &end, 10); break;
    default: return 2;
    }
    if (end != NULL && *end != '\0') {
      fprintf(stderr, "sm-netdelay: '%s' is not a number\n", optarg);
      return 2;
    }
  }
  if (dev == NULL || delay_ms < 0 || delay_ms > 10000 || slots < 16 || slots > (long)ND_SLOTS_MAX) {
    fprintf(stderr, "usage: sm-netdelay --dev NAME --delay-ms 0..10000 [--slots 16..%u]\n", ND_SLOTS_MAX);
    return 2;
  }
  int rc = 1;
  uint64_t dropped = 0;
  struct nd_slot *ring = calloc((size_t)slots, sizeof(*ring));
  int fd = nd_tun_open(dev);
  if (ring == NULL || fd < 0) {
    goto out;
  }
  signal(SIGTERM, nd_on_signal);
  signal(SIGINT, nd_on_signal);
  uint64_t delay_us = (uint64_t)delay_ms * 1000u;
  size_t head = 0, count = 0, n = (size_t)slots;
  while (!nd_stop) {
    uint64_t now = nd_now_us();
    /* Release everything due; a write that would block waits for POLLOUT. */
    int blocked = 0;
    while (count > 0 && ring[head].due_us <= now) {
      ssize_t w = write(fd, ring[head].data, ring[head].len);
      if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
        blocked = 1;
        break;
      }
      head = (head + 1) % n; /* sent, or refused by the kernel: either way gone */
      count--;
    }
    int timeout = -1;
    if (count > 0 && !blocked) {
      uint64_t wait_us = ring[head].due_us - now;
      timeout = (int)((wait_us + 999u) / 1000u);
    }
    struct pollfd pfd = {.fd = fd, .events = (short)(POLLIN | (blocked ? POLLOUT : 0))};
    if (poll(&pfd, 1, timeout) < 0) {
      if (errno == EINTR) {
        continue;
      }
      perror("sm-netdelay: poll");
      goto out;
    }
    if ((pfd.revents & POLLIN) == 0) {
      continue;
    }
    /* Drain what is readable now, stamping each packet on arrival. */
    for (;;) {
      struct nd_slot *s = &ring[(head + count) % n];
      uint8_t scratch[ND_PACKET_MAX];
      uint8_t *dst = count < n ? s->data : scratch;
      ssize_t r = read(fd, dst, ND_PACKET_MAX);
      if (r <= 0) {
        break;
      }
      if (count == n) {
        dropped++;
        continue;
      }
      s->len = (uint32_t)r;
      s->due_us = nd_now_us() + delay_us;
      count++;
    }
  }
  rc = 0;
out:
  if (dropped > 0) {
    fprintf(stderr, "sm-netdelay: %s: %llu packets dropped with the queue full\n", dev,
            (unsigned long long)dropped);
  }
  if (fd >= 0) {
    close(fd);
  }
  free(ring);
  return rc;
}
