package sdk

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
)

// loadBootstrap reads a rule set from path: a snapshot file (a JSON
// ruleset.Document, as GET /v1/flags serves it) or a flags repository
// directory, from which env (or its only environment) is taken.
func loadBootstrap(path, env string) (*ruleset.Document, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading bootstrap: %w", err)
	}
	if info.IsDir() {
		return loadBootstrapRepo(path, env)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading bootstrap: %w", err)
	}
	var doc ruleset.Document
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("decoding bootstrap snapshot %s: %w", path, err)
	}
	if doc.Flags == nil {
		return nil, fmt.Errorf("bootstrap snapshot %s: no \"flags\" object: not a rule-set document", path)
	}
	if env != "" && doc.Environment != "" && doc.Environment != env {
		return nil, fmt.Errorf("bootstrap snapshot %s is for environment %q, not %q", path, doc.Environment, env)
	}
	return &doc, nil
}

// loadBootstrapRepo loads and validates a flags repository directory.
func loadBootstrapRepo(dir, env string) (*ruleset.Document, error) {
	repo, err := loader.Load(dir, loader.Options{})
	if err != nil {
		return nil, fmt.Errorf("loading bootstrap repository %s: %w", dir, err)
	}
	envs := slices.Sorted(maps.Keys(repo.Documents))
	if env == "" {
		if len(envs) != 1 {
			return nil, fmt.Errorf("bootstrap repository %s has environments %v: set Options.Environment", dir, envs)
		}
		env = envs[0]
	}
	doc, ok := repo.Documents[env]
	if !ok || doc == nil {
		return nil, fmt.Errorf("bootstrap repository %s has no environment %q (it has %v)", dir, env, envs)
	}
	return doc, nil
}
