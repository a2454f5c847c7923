//go:build race

package loader

// raceEnabled is true when tests run under the race detector, which makes
// large loads too slow to run in full.
const raceEnabled = true
