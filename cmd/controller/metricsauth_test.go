package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// tokenAuthenticator knows one token per user name.
type tokenAuthenticator map[string]string

func (a tokenAuthenticator) AuthenticateRequest(r *http.Request) (*authenticator.Response, bool, error) {
	for token, name := range a {
		if r.Header.Get("Authorization") == "Bearer "+token {
			return &authenticator.Response{User: &user.DefaultInfo{Name: name}}, true, nil
		}
	}
	return nil, false, nil
}

// recordingAuthorizer allows the users in allowed and keeps what it was asked.
type recordingAuthorizer struct {
	allowed map[string]bool
	err     error
	asked   []authorizer.Attributes
}

func (a *recordingAuthorizer) Authorize(_ context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	a.asked = append(a.asked, attrs)
	if a.err != nil {
		return authorizer.DecisionNoOpinion, "", a.err
	}
	if a.allowed[attrs.GetUser().GetName()] {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "no binding", nil
}

func TestMetricsAuthAnswers(t *testing.T) {
	cases := map[string]struct {
		header     string
		authzErr   error
		wantStatus int
	}{
		"no token":            {"", nil, http.StatusUnauthorized},
		"unknown token":       {"Bearer nobody", nil, http.StatusUnauthorized},
		"token without right": {"Bearer t-plain", nil, http.StatusForbidden},
		"token with right":    {"Bearer t-reader", nil, http.StatusOK},
		"review failed":       {"Bearer t-reader", errors.New("API server unreachable"), http.StatusInternalServerError},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			authz := &recordingAuthorizer{allowed: map[string]bool{"reader": true}, err: tc.authzErr}
			auth := &metricsAuth{
				authenticator: tokenAuthenticator{"t-reader": "reader", "t-plain": "plain"},
				authorizer:    authz,
			}
			handler := auth.protect(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("metrics")) }))
			request := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			if tc.header != "" {
				request.Header.Set("Authorization", tc.header)
			}
			recorder := httptest.NewRecorder()
			handler.ServeHTTP(recorder, request)

			assert.Equal(t, tc.wantStatus, recorder.Code)
			assert.Equal(t, tc.wantStatus == http.StatusOK, recorder.Body.String() == "metrics", "the metrics are served only when allowed")
			assert.NotContains(t, recorder.Body.String(), "t-reader", "the token is never echoed")
			for _, attrs := range authz.asked {
				assert.Equal(t, "get", attrs.GetVerb())
				assert.Equal(t, "/metrics", attrs.GetPath())
				assert.False(t, attrs.IsResourceRequest(), "a non-resource URL, as in the metrics-reader ClusterRole")
			}
		})
	}
}
