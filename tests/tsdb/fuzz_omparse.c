/* fuzz_omparse.c — libFuzzer entry point for the OpenMetrics parser (src/tsdb/omparse.c).
 *
 * Each input is parsed twice: in one piece, and streamed in two pieces split where the input's
 * first byte says. Both runs must agree on the status and on every sample and metadata line
 * delivered (compared through a checksum of their bytes, which also makes the callbacks read
 * every byte the parser hands out, for ASan to check); a disagreement aborts, which the fuzzer
 * reports like a crash.
 *
 * Build (clang):  clang -g -O1 -fsanitize=fuzzer,address,undefined -I include -I src -I BUILD/include \
 *                     tests/tsdb/fuzz_omparse.c BUILD/tests/libvigil_asan.a -lzstd -lpcre2-8 -lz -lm
 * tests/tsdb/test_fuzz_inputs.c runs the same function on a fixed set of mutated inputs in every
 * ctest run (with VIGIL_FUZZ_NO_MAIN). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/omparse.h"

typedef struct om_digest {
    uint64_t hash, samples, meta;
} om_digest;

static void om_mix(om_digest *d, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        d->hash = (d->hash ^ c[i]) * 1099511628211ull;
}

static vigil_status om_on_sample(void *user, const vigil__tsdb_om_sample *s)
{
    om_digest *d = user;
    om_mix(d, s->name, s->name_len);
    for (size_t i = 0; i < s->nlabels; i++) {
        om_mix(d, s->labels[i].name, s->labels[i].name_len);
        om_mix(d, "=", 1);
        om_mix(d, s->labels[i].value, s->labels[i].value_len);
    }
    om_mix(d, &s->value, sizeof s->value);
    om_mix(d, &s->t_ms, sizeof s->t_ms);
    om_mix(d, &s->line, sizeof s->line);
    d->samples++;
    return VIGIL_OK;
}

static vigil_status om_on_meta(void *user, const vigil__tsdb_om_meta *m)
{
    om_digest *d = user;
    om_mix(d, &m->kind, sizeof m->kind);
    om_mix(d, m->name, m->name_len);
    om_mix(d, m->text, m->text_len);
    d->meta++;
    return VIGIL_OK;
}

int vigil_fuzz_omparse(const uint8_t *data, size_t size);

int vigil_fuzz_omparse(const uint8_t *data, size_t size)
{
    const vigil__tsdb_om_handlers h = {om_on_meta, om_on_sample};
    const char *text = (const char *)data;
    om_digest whole = {1469598103934665603ull, 0, 0}, parts = whole;
    vigil_status a = vigil__tsdb_om_parse(text, size, &h, &whole, NULL);

    size_t cut = size ? data[0] % (size + 1) : 0;
    vigil__tsdb_om_parser *p;
    if (vigil__tsdb_om_parser_new(&h, &parts, &p) != VIGIL_OK)
        return 0; /* out of memory: nothing to compare */
    vigil_status b = vigil__tsdb_om_parser_feed(p, text, cut);
    if (b == VIGIL_OK)
        b = vigil__tsdb_om_parser_feed(p, text + cut, size - cut);
    if (b == VIGIL_OK)
        b = vigil__tsdb_om_parser_finish(p);
    vigil__tsdb_om_parser_free(p);
    if (a == VIGIL_ENOMEM || b == VIGIL_ENOMEM)
        return 0;
    if (a != b || whole.hash != parts.hash || whole.samples != parts.samples ||
        whole.meta != parts.meta)
        abort(); /* the streaming parser and the one-shot parser disagree */
    return 0;
}

#ifndef VIGIL_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return vigil_fuzz_omparse(data, size);
}
#endif
