/* test_funcs_format.c — a value as a label value, the way Go's
 * strconv.FormatFloat(v, 'f', -1, 64) writes it for count_values: the shortest digits that
 * read back to the same double, in positional notation at any magnitude. The table holds what
 * Go prints (and Prometheus 2.42's count_values shows); the sweeps check the two properties
 * that define the format on many more values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "promql/funcs.h"

static void check(double v, const char *want)
{
    char out[400];
    size_t n = vigil__pq_format_value_label(out, v);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

/* "0." followed by zeros and then digits, for the smallest subnormals. */
static void check_tiny(double v, size_t zeros, const char *digits)
{
    char want[400];
    memcpy(want, "0.", 2);
    memset(want + 2, '0', zeros);
    strcpy(want + 2 + zeros, digits);
    check(v, want);
}

static void formats_as_go_does(void **state)
{
    (void)state;
    check(0.1, "0.1");
    check(1e21, "1000000000000000000000");
    check(1e-7, "0.0000001");
    check(123456789012345680000.0, "123456789012345680000");
    check(-0.0, "-0");
    check(0.0, "0");
    check(NAN, "NaN");
    check(INFINITY, "+Inf");
    check(-INFINITY, "-Inf");
    check(100, "100");
    check(-1.5, "-1.5");
    check(0.3, "0.3");
    check(1e23, "100000000000000000000000");
    check(9007199254740993.0, "9007199254740992");
    check(1.0 / 3, "0.3333333333333333");
    check(2.0 / 3, "0.6666666666666666");
    check_tiny(5e-324, 323, "5");
    check_tiny(3 * 5e-324, 322, "15");
}

/* At a power of two the doubles below are twice as dense as above, so the shortest decimal may
 * sit above the value while the nearest one of that length, below, does not read back:
 * 2^-791 is 7.678447687145631e-239 (16 digits), not the 17 that rounding to 16 would force. */
static void powers_of_two_take_the_shorter_decimal_above(void **state)
{
    (void)state;
    char out[400];
    vigil__pq_format_value_label(out, ldexp(1, -791));
    const char *digits = out + strspn(out, "0.");
    assert_string_equal(digits, "7678447687145631");
    assert_int_equal(strlen(out), 2 + 238 + 16);
    check(ldexp(1, 70), "1180591620717411300000");
}

/* The text reads back to the same double, never uses an exponent, and with its last digit cut
 * off it would not read back. Checked over a sweep of magnitudes and mantissas. */
static void is_the_shortest_round_trip_in_positional_form(void **state)
{
    (void)state;
    char out[400], shorter[400];
    uint64_t seed = 12345;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        uint64_t bits = seed & ~(UINT64_C(0x7FF) << 52);
        bits |= (uint64_t)(1 + (seed >> 11) % 2046) << 52; /* finite, normal, either sign */
        double v;
        memcpy(&v, &bits, sizeof v);
        size_t n = vigil__pq_format_value_label(out, v);
        assert_null(strpbrk(out, "eE"));
        assert_true(strtod(out, NULL) == v);
        const char *dot = strchr(out, '.');
        if (dot == NULL || out[n - 1] == '.')
            continue;
        memcpy(shorter, out, n - 1);
        shorter[n - 1] = '\0';
        assert_true(strtod(shorter, NULL) != v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(formats_as_go_does),
        cmocka_unit_test(powers_of_two_take_the_shorter_decimal_above),
        cmocka_unit_test(is_the_shortest_round_trip_in_positional_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
