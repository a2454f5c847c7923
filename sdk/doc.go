// Package sdk is the Go client of Flagpole: it streams the full rule set of
// one environment from a bearer (server key), keeps it compiled in memory
// and evaluates flags locally, so that evaluation never waits on the
// network.
//
// A Client connects to GET /v1/stream, applies each `patch` event to its
// copy of the rule set (or refetches GET /v1/flags when a patch does not
// apply), reconnects with exponential backoff and full jitter, and keeps
// serving the last known rule set while the bearer is unreachable. It can
// start from a bootstrap file (a rule-set snapshot or a flags repository
// directory) and run with no bearer at all (Options.Offline).
//
//	client, err := sdk.New(ctx, sdk.Options{URL: "http://127.0.0.1:8080", Key: key})
//	if err != nil { ... }
//	defer client.Close()
//	if client.Bool("checkout-v2", sdk.Context{"key": userID}, false) { ... }
//
// The OpenFeature provider built on this client lives in sdk/openfeature.
package sdk
