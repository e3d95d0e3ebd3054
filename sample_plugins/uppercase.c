/* uppercase: logs its input with the ASCII letters upper-cased.
 *
 *     $ wasmcli run sample_plugins/uppercase.wasm --input "héllo, world"
 *     HéLLO, WORLD
 *
 * Every other byte is copied unchanged, so UTF-8 text stays valid: the bytes of a
 * multi-byte character are all >= 0x80 and never look like ASCII letters.
 * The line is built in the plugin's own static buffer, since the input belongs to the
 * host; an input longer than the buffer is refused with ERROR_BUFFER_OVERFLOW.
 */
#include "sdk/wasmcli_plugin.h"

#define BUFFER_SIZE 65536

static uint8_t buffer[BUFFER_SIZE];

int32_t process(const uint8_t *input, int32_t input_len, const uint8_t *env, int32_t env_len) {
    (void)env;
    (void)env_len;
    if (input_len < 0) {
        return WASMCLI_ERROR_INVALID_INPUT;
    }
    if (input_len > BUFFER_SIZE) {
        wasmcli_log("error: input is longer than the 65536-byte buffer");
        return WASMCLI_ERROR_BUFFER_OVERFLOW;
    }
    for (int32_t i = 0; i < input_len; i++) {
        uint8_t c = input[i];
        buffer[i] = (c >= 'a' && c <= 'z') ? (uint8_t)(c - 'a' + 'A') : c;
    }
    wasmcli_log_n(buffer, (size_t)input_len);
    return WASMCLI_SUCCESS;
}
