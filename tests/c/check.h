/* The check macro and counters the C test programs share; each ends by printing
 * "N passed, M failed", which the Rust side reads. Main-thread use only. */
#ifndef CONNECT_TEST_CHECK_H
#define CONNECT_TEST_CHECK_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond, what)                                                        \
    do {                                                                         \
        if (cond) {                                                              \
            passed++;                                                            \
        } else {                                                                 \
            failed++;                                                            \
            printf("FAIL %s:%d: %s [%s]\n", __FILE__, __LINE__, what, #cond);    \
        }                                                                        \
    } while (0)

#endif
