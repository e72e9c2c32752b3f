/* events_route.c — the recent-events endpoint: a thin handler over vigil_event_bus_recent_json
 * (vigil/events.h). It copies the bus's last-N ring and formats it on the server's thread; it
 * never waits for the dispatcher or a hook. Kept in its own file so that the bare server does not
 * pull in the events module. */
#include "core/core_int.h"
#include "vigil/events.h"
#include "vigil/http.h"

static vigil_status serve_events(const vigil_http_request *req, vigil_http_response *resp,
                                 void *user)
{
    (void)req;
    vigil_buffer body;
    vigil_buffer_init(&body, 0);
    vigil_status st = vigil_event_bus_recent_json(user, &body);
    if (st == VIGIL_OK)
        st = vigil_http_response_header(resp, "Content-Type", "application/json");
    if (st == VIGIL_OK)
        st = vigil_http_response_header(resp, "Cache-Control", "no-store");
    if (st == VIGIL_OK)
        vigil_http_response_take(resp, &body);
    vigil_buffer_free(&body);
    return st;
}

VIGIL_API vigil_status vigil_http_server_serve_events(vigil_http_server *srv, const char *path,
                                                      vigil_event_bus *bus)
{
    if (srv == NULL || path == NULL || bus == NULL)
        return vigil__fail(VIGIL_EINVAL, "serve events: NULL argument");
    return vigil_http_server_route(srv, path, false, serve_events, bus);
}
