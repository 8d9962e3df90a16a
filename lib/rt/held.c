/* held: requests held, from one look to the next (see held.h). */
#include "rt/held.h"

#include "base/string.h"
#include "rt/syscall.h"

long rt_held_look(struct rt_held *h, long proc)
{
    struct k_serving sv;
    long r = k_sys_info(K_INFO_SERVING, (long)&sv, proc);
    if (r < 0)
        return r;
    long now = k_clock_get(), oldest = now;
    long since[32];
    for (unsigned i = 0; i < sv.n; i++) {
        since[i] = now;
        for (unsigned j = 0; j < h->n; j++)
            if (h->ids[j] == sv.ids[i])
                since[i] = h->since[j];
        if (since[i] < oldest)
            oldest = since[i];
    }
    memcpy(h->ids, sv.ids, sv.n * sizeof(sv.ids[0]));
    memcpy(h->since, since, sv.n * sizeof(since[0]));
    h->n = sv.n;
    return now - oldest;
}

unsigned rt_held_older(const struct rt_held *h, long now, long ns)
{
    unsigned n = 0;
    for (unsigned i = 0; i < h->n; i++)
        n += now - h->since[i] >= ns;
    return n;
}
