/* The wasmcli plugin SDK for C: return codes, the host.log import and an export macro,
 * for plugins built with clang --target=wasm32 and no libc:
 *
 *     clang --target=wasm32 -nostdlib -ffreestanding -fno-builtin -O2 \
 *           -Wl,--no-entry -Wl,--stack-first -o plugin.wasm plugin.c
 *
 * (see sample_plugins/Makefile). A plugin defines process() with the prototype below;
 * pointers are 32 bits on wasm32, so it is the ABI's (i32, i32, i32, i32) -> i32:
 *
 *     #include "sdk/wasmcli_plugin.h"
 *
 *     int32_t process(const uint8_t *input, int32_t input_len,
 *                     const uint8_t *env, int32_t env_len) {
 *         wasmcli_log_n(input, (size_t)input_len);
 *         return WASMCLI_SUCCESS;
 *     }
 *
 * The host places input and env in pages it adds to the memory (docs/design.md section 1). It
 * writes at address 0 only into a memory that cannot grow, and wasm-ld declares no
 * maximum, so the pointers are never NULL. The input is the host's: write only to memory
 * the plugin owns (its static data, or pages it grew with __builtin_wasm_memory_grow).
 */
#ifndef WASMCLI_PLUGIN_H
#define WASMCLI_PLUGIN_H

#include <stddef.h> /* freestanding headers: they come with the compiler, not libc */
#include <stdint.h>

/* Plugin return codes: a mirror of wasmcli/return_codes.py, kept in sync by
 * tests/test_sdk_sync.py. */
#define WASMCLI_SUCCESS (0)
#define WASMCLI_ERROR_INVALID_UTF8 (-1)
#define WASMCLI_ERROR_INVALID_INPUT (-2)
#define WASMCLI_ERROR_BUFFER_OVERFLOW (-3)
#define WASMCLI_ERROR_MEMORY_ALLOCATION (-4)
#define WASMCLI_ERROR_PARSE_ERROR (-5)
#define WASMCLI_ERROR_ENV_PARSING (-6)
#define WASMCLI_ERROR_UNKNOWN (-99)

/* Exports a function under its own name: WASMCLI_EXPORT(process) int32_t process(...). */
#define WASMCLI_EXPORT(name) __attribute__((export_name(#name)))

/* The entry point, declared here so that a definition with the wrong signature does not
 * compile (the host would refuse it: abi error, exit 4). */
WASMCLI_EXPORT(process)
int32_t process(const uint8_t *input, int32_t input_len, const uint8_t *env, int32_t env_len);

/* host.log: appends the bytes [ptr, ptr + len) to the run's output as one line. They must
 * be UTF-8, and the range must lie inside memory (else the host traps the plugin). */
__attribute__((import_module("host"), import_name("log")))
void wasmcli_host_log(const void *ptr, size_t len);

/* Logs len bytes as one line. */
static inline void wasmcli_log_n(const void *ptr, size_t len) {
    wasmcli_host_log(ptr, len);
}

/* Logs a NUL-terminated string as one line. */
static inline void wasmcli_log(const char *line) {
    size_t len = 0;
    while (line[len] != '\0') {
        len++;
    }
    wasmcli_host_log(line, len);
}

#endif /* WASMCLI_PLUGIN_H */
