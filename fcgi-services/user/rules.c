/* rules.c: the user service's own rules for what clients type: phone numbers, postal codes
 * and search text. */

#include "config.h"

#include <string.h>

#include "user.h"


/*
 * Chile's numbers have 9 digits (mobiles 9XXXXXXXX, Santiago 2XXXXXXXX, the regions their
 * area code and the number); country code 56.  Without "+" a number is read as Chilean (9
 * digits, or 56 and 9 digits); with "+" it is any E.164 number (8 to 15 digits, the country
 * code not starting with 0), and +56 must again be followed by exactly 9 digits.  Spaces,
 * dashes, dots and parentheses are ignored.  The same rule as the contact form's.
 */

int
user_phone_normalize(const char *in, char *out)
{
    char    digits[USER_PHONE_MAX + 1];
    size_t  i, n;
    int     plus;

    n = 0;
    plus = 0;

    for (i = 0; in[i] != '\0'; i++) {
        char  c = in[i];

        if (c >= '0' && c <= '9') {
            if (n == sizeof(digits) - 1) {
                return -1;
            }
            digits[n++] = c;

        } else if (c == '+' && n == 0 && !plus) {
            plus = 1;

        } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
            return -1;
        }
    }

    digits[n] = '\0';

    if (plus) {
        if (n < 8 || n > 15 || digits[0] == '0') {
            return -1;
        }
        if (strncmp(digits, "56", 2) == 0 && (n != 11 || digits[2] == '0' || digits[2] == '1')) {
            return -1;
        }

    } else if (n == 11 && strncmp(digits, "56", 2) == 0 && digits[2] >= '2') {
        /* already with the country code */

    } else if (n == 9 && digits[0] >= '2') {
        memmove(digits + 2, digits, n + 1);
        digits[0] = '5';
        digits[1] = '6';
        n += 2;

    } else {
        return -1;
    }

    out[0] = '+';
    memcpy(out + 1, digits, n + 1);
    return 0;
}


int
user_postal_ok(const char *s)
{
    size_t  i;

    for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
        /* digits */
    }

    return i == 7 && s[i] == '\0';
}


int
user_search_pattern(const char *search, char *out, size_t size)
{
    size_t  n;

    n = 0;
    if (size < 3) {
        return -1;
    }

    out[n++] = '%';

    for (; *search != '\0'; search++) {
        if (*search == '\\' || *search == '%' || *search == '_') {
            if (n + 1 >= size) {
                return -1;
            }
            out[n++] = '\\';
        }

        if (n + 2 >= size) {
            return -1;
        }
        out[n++] = *search;
    }

    out[n++] = '%';
    out[n] = '\0';
    return 0;
}
