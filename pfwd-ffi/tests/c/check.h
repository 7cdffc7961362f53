/* Small helpers shared by the C test programs (driven by tests/gateway/c.rs). */
#ifndef PFWD_CHECK_H
#define PFWD_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pfwd.h>

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
            exit(1);                                                                \
        }                                                                           \
    } while (0)

/* Expect `call` to return `want`; on a mismatch print the error and exit 1.
 * The error (if any) is freed. */
#define EXPECT(want, call)                                                          \
    do {                                                                            \
        pfwd_error *e_ = NULL;                                                      \
        pfwd_error **ep_ = &e_;                                                     \
        (void)ep_;                                                                  \
        pfwd_result r_ = (call);                                                    \
        if (r_ != (want)) {                                                         \
            fprintf(stderr, "FAILED %s:%d: %s gave %s (%u), not %s: %s\n", __FILE__, \
                    __LINE__, #call, pfwd_result_name(r_), r_, pfwd_result_name(want), \
                    pfwd_error_message(e_));                                        \
            exit(1);                                                                \
        }                                                                           \
        pfwd_error_free(e_);                                                        \
    } while (0)

/* Print a line for the driver, flushed. */
#define SAY(...)                                                                    \
    do {                                                                            \
        printf(__VA_ARGS__);                                                        \
        printf("\n");                                                               \
        fflush(stdout);                                                             \
    } while (0)

/* Wait until the driver (which checks the router from outside) says go on. */
static inline void wait_driver(void) {
    char line[64];
    if (!fgets(line, sizeof line, stdin)) exit(1);
}

#endif
