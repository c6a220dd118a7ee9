/* Load shedding. See overload.h. */
#include "overload.h"

#include "log.h"

/* Long enough for a burst to drain, short enough that clients come back soon. */
#define RETRY_AFTER_S 1

int af_overload_init(af_gw_t *gw)
{
    gw->m_shed = af_metrics_counter(gw->metrics, "gateway_shed_total",
                                    "requests refused with 503 because a queue was full "
                                    "(reason: inflight = the gateway's limit, agent_queue = one agent's)",
                                    "reason");
    return gw->m_shed ? 0 : -1;
}

bool af_overload_admit(af_gw_req_t *r)
{
    af_gw_t *gw = r->gw;
    /* The gauge counts this request too. */
    double inflight = af_metric_value(gw->m_inflight);
    if (gw->max_inflight <= 0 || inflight <= (double)gw->max_inflight)
        return true;
    af_metric_inc(gw->m_shed, "inflight");
    af_debug("event=shed reason=inflight inflight=%.0f limit=%ld", inflight, gw->max_inflight);
    af_gw_reply_retry(r, 503, "overloaded_error", RETRY_AFTER_S,
                      "the gateway is at its limit of %ld requests in flight; retry later",
                      gw->max_inflight);
    return false;
}

bool af_overload_agent_admit(af_gw_req_t *r)
{
    af_gw_t *gw = r->gw;
    if (gw->agent_queue_max <= 0)
        return true;
    size_t q = af_alink_agent_inflight(gw->agents, r->agent_id);
    if (q < (size_t)gw->agent_queue_max)
        return true;
    af_metric_inc(gw->m_shed, "agent_queue");
    af_debug("event=shed reason=agent_queue agent_id=%s queued=%zu limit=%ld", r->agent_id, q,
             gw->agent_queue_max);
    af_gw_reply_retry(r, 503, "overloaded_error", RETRY_AFTER_S,
                      "agent %s has %zu requests in flight (its limit); retry later", r->agent_id,
                      q);
    return false;
}
