package main

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
)

// How long the API server's answers are kept. A Prometheus that scrapes
// every 15 s then costs one TokenReview a minute, and a revoked right stops
// working within five minutes at most (a granted one within half a
// minute), the same trade Kubernetes' own components make.
const (
	tokenReviewCacheTTL = time.Minute
	allowCacheTTL       = 5 * time.Minute
	denyCacheTTL        = 30 * time.Second
	reviewTimeout       = 10 * time.Second
)

// reviewBackoff retries a TokenReview or SubjectAccessReview that failed on
// the way (not one that said no) for about five seconds, so a scrape
// during an API server hiccup is slow rather than refused.
var reviewBackoff = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}

// metricsAuth decides who may read /metrics by asking the API server, as
// Kubernetes' own components do: the bearer token through a TokenReview,
// then "may this user get the non-resource URL /metrics" through a
// SubjectAccessReview. So a scraper needs a ServiceAccount (or any
// identity the API server knows) bound to a role like
// elasticflux-metrics-reader, and the controller needs create on
// tokenreviews and subjectaccessreviews.
type metricsAuth struct {
	authenticator authenticator.Request
	authorizer    authorizer.Authorizer
}

// newMetricsAuth builds the delegating authenticator and authorizer of
// k8s.io/apiserver on client. Anonymous requests are refused.
func newMetricsAuth(client kubernetes.Interface) (*metricsAuth, error) {
	authn, _, err := authenticatorfactory.DelegatingAuthenticatorConfig{
		Anonymous:                &apiserver.AnonymousAuthConfig{Enabled: false},
		TokenAccessReviewClient:  client.AuthenticationV1(),
		TokenAccessReviewTimeout: reviewTimeout,
		WebhookRetryBackoff:      &reviewBackoff,
		CacheTTL:                 tokenReviewCacheTTL,
	}.New()
	if err != nil {
		return nil, fmt.Errorf("building the metrics authenticator: %w", err)
	}
	authz, err := authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: client.AuthorizationV1(),
		AllowCacheTTL:             allowCacheTTL,
		DenyCacheTTL:              denyCacheTTL,
		WebhookRetryBackoff:       &reviewBackoff,
	}.New()
	if err != nil {
		return nil, fmt.Errorf("building the metrics authorizer: %w", err)
	}
	return &metricsAuth{authenticator: authn, authorizer: authz}, nil
}

// protect serves next only to an authenticated caller allowed to use the
// request's verb on its path: 401 without a valid identity, 403 without
// the right, 500 when the API server could not be asked. Neither the token
// nor the review's answer reaches the response or the log.
func (a *metricsAuth) protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger := klog.FromContext(r.Context())
		response, ok, err := a.authenticator.AuthenticateRequest(r)
		if err != nil || !ok {
			if err != nil {
				logger.V(4).Info("Refused a metrics request: authentication failed", "remote", r.RemoteAddr, "err", err)
			}
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		attributes := authorizer.AttributesRecord{
			User:            response.User,
			Verb:            strings.ToLower(r.Method),
			Path:            r.URL.Path,
			ResourceRequest: false,
		}
		decision, reason, err := a.authorizer.Authorize(r.Context(), attributes)
		switch {
		case err != nil:
			logger.Error(err, "Could not authorize a metrics request", "user", response.User.GetName())
			http.Error(w, "Authorization failed", http.StatusInternalServerError)
		case decision != authorizer.DecisionAllow:
			logger.V(4).Info("Refused a metrics request: forbidden", "user", response.User.GetName(), "reason", reason)
			http.Error(w, fmt.Sprintf("Forbidden: %s may not %s %s", response.User.GetName(), attributes.Verb, attributes.Path), http.StatusForbidden)
		default:
			next.ServeHTTP(w, r)
		}
	})
}
