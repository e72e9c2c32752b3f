/* json.c — JSON string escaping, shared by everything that writes JSON (HTTP errors, health
 * and dashboard reports). Invalid UTF-8 becomes U+FFFD so the output is always valid JSON
 * whatever bytes a caller's names or messages hold. */
#include <math.h>
#include <string.h>

#include "core_int.h"

/* Length of the valid UTF-8 sequence at s (at most `avail` bytes), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    size_t n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
    if (n > avail)
        return 0;
    return vigil__utf8_valid((const char *)s, n) ? n : 0;
}

vigil_status vigil__json_escape(vigil_buffer *out, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t len = strlen(str);
    size_t run = 0; /* start of the pending run of bytes that need no escaping */
    vigil_status st = VIGIL_OK;
    size_t i = 0;
    while (i < len && st == VIGIL_OK) {
        unsigned char c = s[i];
        char esc[8];
        size_t elen = 0;
        size_t step = 1;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            elen = 2;
        } else if (c < 0x20 || c == 0x7F) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        } else if (c >= 0x80) {
            step = utf8_seq(s + i, len - i);
            if (step == 0) {
                memcpy(esc, "\\ufffd", 6);
                elen = 6;
                step = 1;
            }
        }
        if (elen > 0) {
            st = vigil_buffer_append(out, s + run, i - run);
            if (st == VIGIL_OK)
                st = vigil_buffer_append(out, esc, elen);
            run = i + step;
        }
        i += step;
    }
    if (st == VIGIL_OK)
        st = vigil_buffer_append(out, s + run, len - run);
    return st;
}

vigil_status vigil__json_string(vigil_buffer *out, const char *str)
{
    vigil_status st = vigil_buffer_append(out, "\"", 1);
    if (st == VIGIL_OK)
        st = vigil__json_escape(out, str);
    return st == VIGIL_OK ? vigil_buffer_append(out, "\"", 1) : st;
}

vigil_status vigil__json_key(vigil_buffer *out, bool first, const char *key)
{
    vigil_status st = first ? VIGIL_OK : vigil_buffer_append(out, ",", 1);
    if (st == VIGIL_OK)
        st = vigil__json_string(out, key);
    return st == VIGIL_OK ? vigil_buffer_append(out, ":", 1) : st;
}

vigil_status vigil__json_number(vigil_buffer *out, double v)
{
    if (!isfinite(v))
        return vigil_buffer_append(out, "null", 4);
    char tmp[VIGIL__FMT_MAX];
    return vigil_buffer_append(out, tmp, vigil__fmt_double(tmp, v));
}
