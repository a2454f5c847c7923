// Package fromrepo bootstraps the Go SDK from a flags repository directory:
// it loads and validates the YAML files the way `flagpole validate` does and
// returns one environment's rule set for sdk.Options.BootstrapDocument.
//
// It lives apart from package sdk because loading a repository links the
// YAML decoder and the JSON Schema validator; a service that bootstraps
// from a snapshot file, or not at all, imports only sdk and links neither.
package fromrepo

import (
	"fmt"
	"maps"
	"slices"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
)

// Document loads and validates the flags repository in dir and returns the
// rule set of env, or of the repository's only environment when env is
// empty (an error if it has several).
func Document(dir, env string) (*ruleset.Document, error) {
	repo, err := loader.Load(dir, loader.Options{})
	if err != nil {
		return nil, fmt.Errorf("loading bootstrap repository %s: %w", dir, err)
	}
	envs := slices.Sorted(maps.Keys(repo.Documents))
	if env == "" {
		if len(envs) != 1 {
			return nil, fmt.Errorf("bootstrap repository %s has environments %v: name one", dir, envs)
		}
		env = envs[0]
	}
	doc, ok := repo.Documents[env]
	if !ok || doc == nil {
		return nil, fmt.Errorf("bootstrap repository %s has no environment %q (it has %v)", dir, env, envs)
	}
	return doc, nil
}
