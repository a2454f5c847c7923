// Package dashboard serves the read-only web UI of a flagpole process at
// /ui/: static files embedded in the binary (plain HTML, CSS and
// JavaScript, no build step, nothing fetched from elsewhere) and the JSON
// and Server-Sent Events they read under /ui/api/.
//
// Every /ui/api/ route needs a viewer or admin key (flagpole.yaml's keys of
// those kinds, or FLAGPOLE_ADMIN_TOKEN) in Authorization: Bearer; SDK keys
// are refused with 403 and nothing is shown without a key, since rules may
// hold personal data. The page keeps the key in sessionStorage and sends it
// with each request: there is no cookie session. The only write the page
// makes, the kill button, goes through the admin API (/v1/admin/overrides),
// so it is audited in git like the CLI's.
//
// The dashboard computes each breaker's figures from the store (the
// snapshot, its override layer and the metric windows) once per Interval,
// keeps a short history of them, and streams them with rule-set and sync
// changes to every open page (GET /ui/api/events). docs/dashboard.md
// describes the views and docs/security.md the bounds.
package dashboard
