/* form.c: the contact form's own rules (subjects, phone numbers, ticket ids) and the
 * formatting of prices in mails. */

#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "contact.h"


const char *const  contact_subjects[] = {
    "pedido", "consulta", "cotizacion", "evento", "reclamo", "otro", NULL
};

static const char *const  contact_subject_labels[] = {
    "Pedido", "Consulta", "Cotización", "Evento", "Reclamo", "Otro", NULL
};


const char *
contact_subject_label(const char *subject)
{
    size_t  i;

    for (i = 0; contact_subjects[i] != NULL; i++) {
        if (strcmp(contact_subjects[i], subject) == 0) {
            return contact_subject_labels[i];
        }
    }

    return "Otro";
}


/*
 * Chile's numbering plan has had 9 digits everywhere since 2016: mobiles 9XXXXXXXX,
 * Santiago 2XXXXXXXX, the regions their area code and the number (3X..7X); country code
 * 56.  A number without "+" is read as Chilean (9 digits, or 56 and 9 digits); with "+" it
 * is any E.164 number (a country code not starting with 0, 8 to 15 digits in all), and
 * +56 must again be followed by exactly 9 digits.
 */

int
contact_phone_normalize(const char *in, char out[CONTACT_PHONE_LEN + 1])
{
    char    digits[CONTACT_PHONE_MAX + 1];
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

    /* n is at most 15 here. */
    out[0] = '+';
    memcpy(out + 1, digits, n + 1);
    return 0;
}


int
contact_ticket_new(char out[CONTACT_TICKET_LEN + 1])
{
    /* Crockford's base 32: no I, L, O or U to misread over the phone. */
    static const char  alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    unsigned char      rnd[6];
    char               day[48];
    struct tm          tm;
    time_t             now;
    size_t             i;

    if (fv_random(rnd, sizeof(rnd)) != 0) {
        return -1;
    }

    now = time(NULL);
    if (gmtime_r(&now, &tm) == NULL) {
        return -1;
    }

    (void) snprintf(day, sizeof(day), "CT-%04d%02d%02d-",
        (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100, tm.tm_mday % 100);
    memcpy(out, day, 12);

    for (i = 0; i < sizeof(rnd); i++) {
        out[12 + i] = alphabet[rnd[i] & 0x1f];
    }

    out[CONTACT_TICKET_LEN] = '\0';
    return 0;
}


void
contact_clp(int64_t amount, char out[32])
{
    char     digits[24];
    size_t   n, i, o;

    if (amount < 0) {
        amount = 0;
    }

    n = (size_t) snprintf(digits, sizeof(digits), "%" PRId64, amount);

    o = 0;
    out[o++] = '$';
    for (i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0) {
            out[o++] = '.';
        }
        out[o++] = digits[i];
    }
    out[o] = '\0';
}
