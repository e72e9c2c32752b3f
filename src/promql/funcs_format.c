/* funcs_format.c — a sample value written as a label value, exactly as Prometheus writes it
 * (count_values): Go's strconv.FormatFloat(v, 'f', -1, 64). That is the shortest decimal
 * that reads back to the same double — the closest to it when several are that short — laid
 * out in positional notation whatever the magnitude: 1e21 is "1000000000000000000000",
 * 5e-324 is "0.000…005", and NaN, +Inf, -Inf and -0 are "NaN", "+Inf", "-Inf", "-0".
 *
 * The query API writes every sample value of every answer this way (a day of a few hundred
 * series at one-minute steps is a few hundred thousand values), so the digits come from Ryu,
 * as in Go itself: some 30 ns a value, where searching for the shortest length with printf
 * and strtod cost about 3 us. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "core/core_int.h" /* before funcs.h: ast.h names struct vigil_buffer */
#include "funcs.h"

/* A decimal d1 d2 ... dn x 10^(point - n), d1 not zero. */
typedef struct decimal {
    char digits[24];
    size_t n;
    int point; /* digits before the decimal point; may be <= 0 or > n */
} decimal;

/* ---- Ryu ------------------------------------------------------------------------------------
 *
 * Ulf Adams's Ryu (PLDI 2018), the algorithm Go's strconv uses for the shortest form: the
 * interval of decimals that read back to v is scaled by a power of ten through 128-bit
 * multiplications by 5^q or 2^k / 5^q kept to their top 125 bits, and digits are dropped
 * while the interval's ends still differ; the last dropped digit rounds the result (to even on
 * an exact tie). The tables are the reference implementation's DOUBLE_POW5_SPLIT and
 * DOUBLE_POW5_INV_SPLIT, computed once from their definitions with a small big-number
 * routine rather than pasted as 1,300 hexadecimal constants. */

#define POW5_BITS 125
#define POW5_COUNT 326     /* 5^0 .. 5^325: values from 2^0 up */
#define POW5_INV_COUNT 342 /* 5^-0 .. 5^-341: values below 2^0 */
#define BIG_LIMBS 40       /* 1,280 bits: room for 2^1024 / 5^i and for 5^341 */

typedef unsigned __int128 u128;

static u128 pow5_split[POW5_COUNT];
static u128 pow5_inv_split[POW5_INV_COUNT];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

typedef struct big {
    uint32_t l[BIG_LIMBS]; /* little-endian limbs */
} big;

static size_t big_bits(const big *b)
{
    for (size_t i = BIG_LIMBS; i > 0; i--)
        if (b->l[i - 1] != 0)
            return (i - 1) * 32 + (size_t)(32 - __builtin_clz(b->l[i - 1]));
    return 0;
}

static void big_mul_small(big *b, uint32_t m)
{
    uint64_t carry = 0;
    for (size_t i = 0; i < BIG_LIMBS; i++) {
        uint64_t x = (uint64_t)b->l[i] * m + carry;
        b->l[i] = (uint32_t)x;
        carry = x >> 32;
    }
}

/* floor(b / d) */
static void big_div_small(big *b, uint32_t d)
{
    uint64_t rem = 0;
    for (size_t i = BIG_LIMBS; i > 0; i--) {
        uint64_t x = rem << 32 | b->l[i - 1];
        b->l[i - 1] = (uint32_t)(x / d);
        rem = x % d;
    }
}

/* floor(b / 2^shift), which must fit in 128 bits. */
static u128 big_shr(const big *b, size_t shift)
{
    u128 r = 0;
    for (size_t bit = 128; bit > 0; bit--) {
        size_t at = shift + bit - 1;
        if (at / 32 < BIG_LIMBS && (b->l[at / 32] >> (at % 32) & 1))
            r |= (u128)1 << (bit - 1);
    }
    return r;
}

/* pow5_split[i]: 5^i to its top POW5_BITS bits (shifted up when it has fewer).
 * pow5_inv_split[i]: floor(2^(bits(5^i) - 1 + POW5_BITS) / 5^i) + 1. Nested floor divisions
 * of integers compose (floor(floor(x / a) / b) == floor(x / ab)), so the quotients come from
 * 2^1024 divided by 5 again and again, and from that by a power of two. */
static void make_tables(void)
{
    big p = {{1}};
    for (size_t i = 0; i < POW5_COUNT; i++) {
        size_t bits = big_bits(&p);
        pow5_split[i] = bits >= POW5_BITS ? big_shr(&p, bits - POW5_BITS)
                                          : big_shr(&p, 0) << (POW5_BITS - bits);
        big_mul_small(&p, 5);
    }
    big p5 = {{1}}, q = {{0}};
    const size_t top = 1024;
    q.l[top / 32] = 1;
    for (size_t i = 0; i < POW5_INV_COUNT; i++) {
        size_t bits = big_bits(&p5);
        pow5_inv_split[i] = big_shr(&q, top - (bits - 1 + POW5_BITS)) + 1;
        big_mul_small(&p5, 5);
        big_div_small(&q, 5);
    }
}

static inline uint32_t pow5_bits(int32_t e)
{
    return (uint32_t)(((uint32_t)e * 1217359) >> 19) + 1;
}

static inline uint32_t log10_pow2(int32_t e)
{
    return ((uint32_t)e * 78913) >> 18;
}

static inline uint32_t log10_pow5(int32_t e)
{
    return ((uint32_t)e * 732923) >> 20;
}

static inline uint32_t pow5_factor(uint64_t v)
{
    uint32_t count = 0;
    while (v % 5 == 0) {
        v /= 5;
        count++;
    }
    return count;
}

static inline bool multiple_of_pow5(uint64_t v, uint32_t p)
{
    return pow5_factor(v) >= p;
}

static inline bool multiple_of_pow2(uint64_t v, uint32_t p)
{
    return (v & ((UINT64_C(1) << p) - 1)) == 0;
}

/* (m * mul) >> j for the 125-bit mul, j >= 64. */
static inline uint64_t mul_shift(uint64_t m, u128 mul, int32_t j)
{
    u128 b0 = (u128)m * (uint64_t)mul;
    u128 b2 = (u128)m * (uint64_t)(mul >> 64);
    return (uint64_t)(((b0 >> 64) + b2) >> (j - 64));
}

/* The shortest decimal output * 10^exp that reads back to the positive finite v, the closest
 * to v among those as short. */
static uint64_t ryu(double v, int32_t *exp)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    const uint64_t ieee_m = bits & ((UINT64_C(1) << 52) - 1);
    const uint32_t ieee_e = (uint32_t)(bits >> 52) & 0x7ff;
    int32_t e2;
    uint64_t m2;
    if (ieee_e == 0) {
        e2 = 1 - 1023 - 52 - 2;
        m2 = ieee_m;
    } else {
        e2 = (int32_t)ieee_e - 1023 - 52 - 2;
        m2 = (UINT64_C(1) << 52) | ieee_m;
    }
    const bool accept_bounds = (m2 & 1) == 0;
    const uint64_t mv = 4 * m2;
    const uint32_t mm_shift = ieee_m != 0 || ieee_e <= 1;

    uint64_t vr, vp, vm;
    int32_t e10;
    bool vm_trailing_zeros = false, vr_trailing_zeros = false;
    if (e2 >= 0) {
        const uint32_t q = log10_pow2(e2) - (e2 > 3);
        e10 = (int32_t)q;
        const int32_t k = POW5_BITS + (int32_t)pow5_bits((int32_t)q) - 1;
        const int32_t i = -e2 + (int32_t)q + k;
        vr = mul_shift(4 * m2, pow5_inv_split[q], i);
        vp = mul_shift(4 * m2 + 2, pow5_inv_split[q], i);
        vm = mul_shift(4 * m2 - 1 - mm_shift, pow5_inv_split[q], i);
        if (q <= 21) {
            if (mv % 5 == 0)
                vr_trailing_zeros = multiple_of_pow5(mv, q);
            else if (accept_bounds)
                vm_trailing_zeros = multiple_of_pow5(mv - 1 - mm_shift, q);
            else
                vp -= multiple_of_pow5(mv + 2, q);
        }
    } else {
        const uint32_t q = log10_pow5(-e2) - (-e2 > 1);
        e10 = (int32_t)q + e2;
        const int32_t i = -e2 - (int32_t)q;
        const int32_t k = (int32_t)pow5_bits(i) - POW5_BITS;
        const int32_t j = (int32_t)q - k;
        vr = mul_shift(4 * m2, pow5_split[i], j);
        vp = mul_shift(4 * m2 + 2, pow5_split[i], j);
        vm = mul_shift(4 * m2 - 1 - mm_shift, pow5_split[i], j);
        if (q <= 1) {
            vr_trailing_zeros = true;
            if (accept_bounds)
                vm_trailing_zeros = mm_shift == 1;
            else
                vp--;
        } else if (q < 63) {
            vr_trailing_zeros = multiple_of_pow2(mv, q);
        }
    }

    int32_t removed = 0;
    uint32_t last_removed = 0;
    uint64_t output;
    if (vm_trailing_zeros || vr_trailing_zeros) {
        /* The rare general case (~0.7%): an end of the interval or the value itself is exact. */
        while (vp / 10 > vm / 10) {
            vm_trailing_zeros &= vm % 10 == 0;
            vr_trailing_zeros &= last_removed == 0;
            last_removed = (uint32_t)(vr % 10);
            vr /= 10;
            vp /= 10;
            vm /= 10;
            removed++;
        }
        if (vm_trailing_zeros) {
            while (vm % 10 == 0) {
                vr_trailing_zeros &= last_removed == 0;
                last_removed = (uint32_t)(vr % 10);
                vr /= 10;
                vp /= 10;
                vm /= 10;
                removed++;
            }
        }
        if (vr_trailing_zeros && last_removed == 5 && vr % 2 == 0)
            last_removed = 4; /* exactly halfway: round to even */
        output = vr + ((vr == vm && (!accept_bounds || !vm_trailing_zeros)) || last_removed >= 5);
    } else {
        bool round_up = false;
        if (vp / 100 > vm / 100) {
            round_up = vr % 100 >= 50;
            vr /= 100;
            vp /= 100;
            vm /= 100;
            removed += 2;
        }
        while (vp / 10 > vm / 10) {
            round_up = vr % 10 >= 5;
            vr /= 10;
            vp /= 10;
            vm /= 10;
            removed++;
        }
        output = vr + (vr == vm || round_up);
    }
    *exp = e10 + removed;
    return output;
}

static const char two_digits[201] = "00010203040506070809101112131415161718192021222324"
                                    "25262728293031323334353637383940414243444546474849"
                                    "50515253545556575859606162636465666768697071727374"
                                    "75767778798081828384858687888990919293949596979899";

/* How many decimal digits m > 0 has: log10 from the bit length (1233 / 4096 is just above
 * log10(2)), corrected by one comparison. */
static size_t decimal_length(uint64_t m)
{
    static const uint64_t pow10[20] = {
        UINT64_C(1), UINT64_C(10), UINT64_C(100), UINT64_C(1000), UINT64_C(10000),
        UINT64_C(100000), UINT64_C(1000000), UINT64_C(10000000), UINT64_C(100000000),
        UINT64_C(1000000000), UINT64_C(10000000000), UINT64_C(100000000000),
        UINT64_C(1000000000000), UINT64_C(10000000000000), UINT64_C(100000000000000),
        UINT64_C(1000000000000000), UINT64_C(10000000000000000),
        UINT64_C(100000000000000000), UINT64_C(1000000000000000000),
        UINT64_C(10000000000000000000)};
    unsigned bits = 64 - (unsigned)__builtin_clzll(m);
    unsigned t = (bits * 1233) >> 12;
    return (size_t)t - (m < pow10[t]) + 1;
}

/* Writes the decimal digits of x so that they end at p, two at a time; returns where they
 * start. */
static char *digits_before(char *p, uint32_t x)
{
    while (x >= 100) {
        uint32_t r = x % 100;
        x /= 100;
        p -= 2;
        memcpy(p, two_digits + 2 * r, 2);
    }
    if (x >= 10) {
        p -= 2;
        memcpy(p, two_digits + 2 * x, 2);
    } else {
        *--p = (char)('0' + x);
    }
    return p;
}

/* The shortest decimal of the positive finite v into *d, trailing zeros moved into the
 * exponent. The low eight digits and the rest are written as two independent 32-bit runs. */
static void shortest(double v, decimal *d)
{
    pthread_once(&tables_once, make_tables);
    int32_t exp;
    uint64_t m = ryu(v, &exp);
    while (m % 10 == 0) { /* m > 0 */
        m /= 10;
        exp++;
    }
    size_t n = decimal_length(m);
    char *end = d->digits + n;
    if (m >= 100000000) {
        uint32_t low = (uint32_t)(m % 100000000);
        uint32_t high = (uint32_t)(m / 100000000); /* m < 10^17 */
        char *p = end - 8;
        for (int i = 0; i < 4; i++) {
            uint32_t r = low % 100;
            low /= 100;
            memcpy(end - 2 * (i + 1), two_digits + 2 * r, 2);
        }
        digits_before(p, high);
    } else {
        digits_before(end, (uint32_t)m);
    }
    d->n = n;
    d->point = (int)n + exp;
}

static size_t put(char *out, size_t at, char c, size_t count)
{
    memset(out + at, c, count);
    return at + count;
}

size_t vigil__pq_format_value_label(char *out, double v)
{
    const char *special = NULL;
    if (isnan(v))
        special = "NaN";
    else if (isinf(v))
        special = v > 0 ? "+Inf" : "-Inf";
    else if (v == 0)
        special = signbit(v) ? "-0" : "0";
    if (special != NULL) {
        size_t len = strlen(special);
        memcpy(out, special, len + 1);
        return len;
    }

    size_t at = 0;
    if (v < 0) {
        out[at++] = '-';
        v = -v;
    }
    decimal d = {{0}, 0, 0};
    shortest(v, &d);
    if (d.point <= 0) {
        at = put(out, at, '0', 1);
        at = put(out, at, '.', 1);
        at = put(out, at, '0', (size_t)-d.point);
        memcpy(out + at, d.digits, d.n);
        at += d.n;
    } else if ((size_t)d.point >= d.n) {
        memcpy(out + at, d.digits, d.n);
        at += d.n;
        at = put(out, at, '0', (size_t)d.point - d.n);
    } else {
        memcpy(out + at, d.digits, (size_t)d.point);
        at += (size_t)d.point;
        out[at++] = '.';
        memcpy(out + at, d.digits + d.point, d.n - (size_t)d.point);
        at += d.n - (size_t)d.point;
    }
    out[at] = '\0';
    return at;
}
