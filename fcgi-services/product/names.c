/* names.c: the display names of category and occasion slugs, for the catalogue's menus. */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "product.h"


typedef struct {
    const char  *slug;
    const char  *name;
} product_name_t;

/* Sorted by slug (bsearch).  A slug missing here is shown as itself, capitalised, with
 * spaces for underscores. */
static const product_name_t  product_names[] = {
    { "agradecimiento",        "Agradecimiento" },
    { "alegria",               "Alegría" },
    { "amistad",               "Amistad" },
    { "amor",                  "Amor" },
    { "amor_familiar",         "Amor familiar" },
    { "aniversario",           "Aniversario" },
    { "aniversario_amor",      "Aniversario y amor" },
    { "aniversario_especial",  "Aniversario especial" },
    { "aromaterapia",          "Aromaterapia" },
    { "aromatico",             "Aromático" },
    { "arte_floral",           "Arte floral" },
    { "artificial",            "Artificiales" },
    { "autocuidado",           "Autocuidado" },
    { "baby_shower",           "Baby shower" },
    { "bebe_nina",             "Bebé niña" },
    { "bebe_nino",             "Bebé niño" },
    { "bienestar",             "Bienestar" },
    { "bodas",                 "Bodas" },
    { "campestre",             "Campestre" },
    { "casual",                "Casual" },
    { "celebracion",           "Celebración" },
    { "cenas",                 "Cenas" },
    { "coleccionista",         "Coleccionista" },
    { "color",                 "Color" },
    { "compromiso",            "Compromiso" },
    { "condolencias",          "Condolencias" },
    { "corporativo",           "Corporativo" },
    { "cumpleanos",            "Cumpleaños" },
    { "decoracion",            "Decoración" },
    { "decoracion_permanente", "Decoración permanente" },
    { "decoracion_verde",      "Decoración verde" },
    { "delicado",              "Delicado" },
    { "detalle",               "Detalle" },
    { "dia_madre",             "Día de la Madre" },
    { "dormitorio",            "Dormitorio" },
    { "duradero",              "Duradero" },
    { "eco",                   "Ecológico" },
    { "economico",             "Económico" },
    { "elegancia",             "Elegancia" },
    { "elegante",              "Elegante" },
    { "empresarial",           "Empresarial" },
    { "eterno",                "Eterno" },
    { "eventos",               "Eventos" },
    { "eventos_especiales",    "Eventos especiales" },
    { "exito",                 "Éxito" },
    { "exotico",               "Exótico" },
    { "familia",               "Familia" },
    { "feminidad",             "Feminidad" },
    { "festividades",          "Festividades" },
    { "fin_de_ano",            "Fin de año" },
    { "funerario",             "Funerario" },
    { "gourmet",               "Gourmet" },
    { "graduacion",            "Graduación" },
    { "hogar",                 "Hogar" },
    { "inauguracion",          "Inauguración" },
    { "jardin",                "Jardín" },
    { "kit_regalo",            "Kits de regalo" },
    { "logros",                "Logros" },
    { "lujo",                  "Lujo" },
    { "mini",                  "Mini" },
    { "minimalista",           "Minimalista" },
    { "moderno",               "Moderno" },
    { "nacimiento",            "Nacimiento" },
    { "natural",               "Natural" },
    { "navidad",               "Navidad" },
    { "oficina",               "Oficina" },
    { "oriental",              "Oriental" },
    { "pedida_matrimonio",     "Pedida de matrimonio" },
    { "plantas_interior",      "Plantas de interior" },
    { "plantas_modernas",      "Plantas modernas" },
    { "plantas_premium",       "Plantas premium" },
    { "premium",               "Premium" },
    { "premium_temporada",     "Premium de temporada" },
    { "preservado",            "Preservadas" },
    { "primavera",             "Primavera" },
    { "profesional",           "Profesional" },
    { "recuperacion",          "Recuperación" },
    { "regalo",                "Regalo" },
    { "relajacion",            "Relajación" },
    { "renacimiento",          "Renacimiento" },
    { "romantico",             "Romántico" },
    { "rustico",               "Rústico" },
    { "saludable",             "Saludable" },
    { "san_valentin",          "San Valentín" },
    { "suscripcion",           "Suscripción" },
    { "temporada",             "Temporada" },
    { "temporada_navidad",     "Temporada de Navidad" },
    { "tradicional",           "Tradicional" },
    { "verano",                "Verano" },
    { "vintage",               "Vintage" },
    { "vip",                   "VIP" },
    { "zen",                   "Zen" },
};


static int
product_name_cmp(const void *key, const void *elt)
{
    return strcmp(key, ((const product_name_t *) elt)->slug);
}


const char *
product_slug_name(const char *slug, char *buf, size_t size)
{
    const product_name_t  *n;
    size_t                 i;

    n = bsearch(slug, product_names, sizeof(product_names) / sizeof(product_names[0]),
                sizeof(product_names[0]), product_name_cmp);
    if (n != NULL) {
        return n->name;
    }

    (void) snprintf(buf, size, "%s", slug);

    for (i = 0; buf[i] != '\0'; i++) {
        if (buf[i] == '_' || buf[i] == '-') {
            buf[i] = ' ';
        }
    }

    if (buf[0] >= 'a' && buf[0] <= 'z') {
        buf[0] = (char) (buf[0] - 'a' + 'A');
    }

    return buf;
}
