// Package httpapi serves walship's operations endpoints on http.listen:
//
//	/healthz   200 while the process serves requests (liveness)
//	/readyz    200 when every component is running, else 503 naming those
//	           that are not (readiness)
//	/metrics   Prometheus exposition of the given registry
//
// Later issues add /api/v1/status, the wait API and the dashboard here.
// Handlers never print row data or secrets.
package httpapi
