// Copyright 2026 the framewire authors. MIT license.
//
// What fresh memory costs on this machine, without any JavaScript runtime:
// touches every 4 KiB page of a 256 MiB anonymous mapping, gives the pages
// back (MADV_DONTNEED, as an allocator that returns freed memory does) and
// touches them again, four times; then the same with transparent huge pages
// asked for (MADV_HUGEPAGE: one fault per 2 MiB instead of per 4 KiB); then
// a memset of memory already in place, for scale. bench/README.md ("The
// machine") quotes its output.
//
//   cc -O2 -o /tmp/page_faults bench/machine/page_faults.c && /tmp/page_faults

#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void rounds(const char *label, int huge) {
  const size_t size = (size_t)256 << 20;
  const size_t pages = size / 4096;
  char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    return;
  }
  if (huge && madvise(p, size, MADV_HUGEPAGE) != 0) perror("madvise(MADV_HUGEPAGE)");
  for (int round = 0; round < 4; round++) {
    const double start = now();
    for (size_t i = 0; i < size; i += 4096) p[i] = 1;
    const double touched = now();
    printf("%s, round %d: first write to each 4 KiB page %.3f us per page\n", label, round,
           (touched - start) / pages * 1e6);
    if (round == 3) {
      const double again = now();
      memset(p, 2, size);
      printf("%s: memset of the same pages, now in place: %.3f us per 4 KiB\n", label,
             (now() - again) / pages * 1e6);
    }
    madvise(p, size, MADV_DONTNEED);
  }
  munmap(p, size);
}

int main(void) {
  rounds("4 KiB pages", 0);
  rounds("huge pages asked for", 1);
  return 0;
}
