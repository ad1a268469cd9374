/* main.c: the wishlist service: each customer's wishlist under /api/wishlist, in Redis,
 * shown with the catalogue's current names, prices and availability. */

#include "config.h"

#include <stdlib.h>

#include "wishlist.h"


#define FIELDS_END  { NULL, 0, 0, 0, 0, NULL, NULL }


static const fv_field_t  add_body[] = {
    { "productId", FV_STRING, FV_REQUIRED, 1, WISHLIST_PRODUCT_ID_MAX, NULL, NULL },
    FIELDS_END
};


static const fv_route_t  wishlist_routes[] = {
    { "GET",    "/api/wishlist",                   FV_USER, NULL, NULL, wishlist_get },
    { "DELETE", "/api/wishlist",                   FV_USER, NULL, NULL, wishlist_clear },
    { "POST",   "/api/wishlist/items",             FV_USER, add_body, NULL, wishlist_add },
    { "DELETE", "/api/wishlist/items/:productId",  FV_USER, NULL, NULL, wishlist_remove },
    { "POST",   "/api/wishlist/items/:productId/move-to-cart", FV_USER, NULL, NULL,
                wishlist_move },
    FV_ROUTES_END
};


static const fv_service_t  wishlist_service = {
    WISHLIST_SERVICE,
    wishlist_routes,
    FV_STORE_REDIS,
    0,
    NULL,
    NULL,
    NULL
};


int
main(int argc, char **argv)
{
    return fv_main(argc, argv, &wishlist_service);
}
