// Package bearer serves rule sets to SDKs over HTTP: the full rule set of an
// environment to server-side SDKs (GET /v1/flags and the /v1/stream SSE
// stream of put and patch events), evaluated values to browsers and other
// untrusted clients (POST /v1/evaluate, GET /v1/stream/evaluated), and the
// OpenFeature Remote Evaluation Protocol (OFREP) for any language, with its
// SSE change notifications (GET /v1/stream/ofrep, reached through a signed,
// expiring token that the bulk evaluation advertises). With
// Options.Metrics it also takes the outcome counts that server SDKs report
// for the circuit breaker (POST /v1/metrics) into the store's buckets.
//
// A Server reads snapshots from a store.Store, compiles them with
// ruleset.Compile and follows store.Watch. It keeps serving the last good
// compiled rule set of each environment when a reload fails or the store is
// down. SDK keys are checked by their SHA-256 in constant time against the
// keys of every snapshot; a key removed by a new snapshot is refused from that
// version on and its open streams are closed.
//
// SSE fan-out never blocks on a slow client: each environment has one
// broadcaster goroutine that hands every event, encoded once, to per-client
// buffered channels; a client whose buffer is full is dropped and resyncs
// when it reconnects.
//
// docs/http-api.md describes the wire protocol.
package bearer
