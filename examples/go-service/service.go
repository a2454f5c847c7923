package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk"
)

// service is the example's business logic: a checkout whose flow, cart
// limit and search ranking come from flags.
type service struct {
	flags *sdk.Client
	of    *of.Client // set with --openfeature: checkout-v2 goes through OpenFeature
	log   *slog.Logger
}

func (s *service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /checkout", s.checkout)
	mux.HandleFunc("GET /healthz", s.health)
	return mux
}

// checkoutPage is what GET /checkout answers.
type checkoutPage struct {
	User          string `json:"user"`
	Flow          string `json:"flow"`   // "v2" or "classic"
	Reason        string `json:"reason"` // why checkout-v2 gave that flow
	MaxCartItems  int64  `json:"max_cart_items"`
	SearchRanking string `json:"search_ranking"`
	FlagsVersion  string `json:"flags_version"`
}

// checkout evaluates the flags for the user named by the query (user, plan,
// country, state) and answers which behaviour was chosen.
func (s *service) checkout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	user := q.Get("user")
	if user == "" {
		http.Error(w, `query parameter "user" is required`, http.StatusBadRequest)
		return
	}
	ctx := sdk.Context{"key": user}
	for _, attr := range []string{"plan", "country", "state", "email"} {
		if v := q.Get(attr); v != "" {
			ctx[attr] = v
		}
	}
	if v, err := strconv.ParseBool(q.Get("student")); err == nil {
		ctx["student"] = v
	}
	page := checkoutPage{User: user, Flow: "classic", FlagsVersion: s.flags.Version()}
	v2, reason := s.checkoutV2(r, ctx)
	if v2 {
		page.Flow = "v2"
	}
	page.Reason = reason
	page.MaxCartItems = s.flags.Int("max-cart-items", ctx, 100)
	page.SearchRanking = s.flags.String("search-ranking", ctx, "relevance")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

// checkoutV2 evaluates checkout-v2 with the SDK, or through OpenFeature.
func (s *service) checkoutV2(r *http.Request, ctx sdk.Context) (bool, string) {
	if s.of == nil {
		d := s.flags.BoolDetail("checkout-v2", ctx, false)
		return d.Value, d.Reason.String() + suffix(d.ErrorCode.String())
	}
	attrs := map[string]any{}
	for k, v := range ctx {
		if k != "key" {
			attrs[k] = v
		}
	}
	d, err := s.of.BooleanValueDetails(r.Context(), "checkout-v2", false, of.NewEvaluationContext(ctx["key"].(string), attrs))
	if err != nil {
		s.log.Warn("checkout-v2 through OpenFeature", "err", err)
	}
	return d.Value, string(d.Reason) + suffix(string(d.ErrorCode))
}

func suffix(code string) string {
	if code == "" {
		return ""
	}
	return " " + code
}

// health reports the flag client's state and rule-set version.
func (s *service) health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"flags_state": s.flags.State().String(), "flags_version": s.flags.Version()})
}
