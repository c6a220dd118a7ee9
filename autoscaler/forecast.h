/* Demand forecasting for the predictive policy: Holt's linear trend over
 * irregularly spaced samples, and a predictor combining sessions and request
 * rate. Pure: the caller passes sample times. */
#ifndef AF_AUTOSCALER_FORECAST_H
#define AF_AUTOSCALER_FORECAST_H

#include <stdbool.h>

/* ---- Holt's linear trend on one series ---------------------------------- */

typedef struct af_holt_t af_holt_t;

/* alpha: level smoothing, beta: trend smoothing, both in (0, 1]. */
af_holt_t *af_holt_new(double alpha, double beta);
void af_holt_destroy(af_holt_t **self_p);
/* Adds a sample; samples with t_s not after the previous one are ignored. */
void af_holt_observe(af_holt_t *self, double t_s, double value);
/* Level + trend * horizon_s, never negative; -1 before the second sample. */
double af_holt_forecast(const af_holt_t *self, double horizon_s);
/* Trend in units per second (0 before the second sample). */
double af_holt_trend(const af_holt_t *self);
int af_holt_samples(const af_holt_t *self);

/* ---- sessions + request rate --------------------------------------------- */

typedef struct af_predictor_t af_predictor_t;

af_predictor_t *af_predictor_new(double alpha, double beta);
void af_predictor_destroy(af_predictor_t **self_p);

/* One evaluation's inputs. rps <= 0 means "no request rate" (that series is
 * then not used). saturated: capacity was full, so `sessions` undercounts
 * demand; the sessions-per-rps ratio is learned only from unsaturated samples,
 * and during saturation the request rate (counted where requests arrive, even
 * when refused) tells how much demand there really is. */
void af_predictor_observe(af_predictor_t *self, double t_s, double sessions, double rps,
                          bool saturated);

/* Forecast sessions horizon_s ahead: the session trend; while the last sample
 * was saturated (and the sessions-per-rps ratio was learned from at least 5
 * unsaturated samples), the larger of that and the request-rate trend
 * converted to sessions. -1 until two samples were seen. */
double af_predictor_forecast(const af_predictor_t *self, double horizon_s);

#endif
