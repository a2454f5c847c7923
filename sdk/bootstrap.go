package sdk

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/flagpole/flagpole/ruleset"
)

// loadBootstrap reads a rule-set snapshot file (a JSON ruleset.Document, as
// GET /v1/flags serves it) and checks that it is for env when env is set.
func loadBootstrap(path, env string) (*ruleset.Document, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading bootstrap: %w", err)
	}
	if info.IsDir() {
		return nil, fmt.Errorf("bootstrap %s is a directory: load a flags repository with package sdk/fromrepo and pass the result as Options.BootstrapDocument", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading bootstrap: %w", err)
	}
	var doc ruleset.Document
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("decoding bootstrap snapshot %s: %w", path, err)
	}
	if doc.Flags.Null() {
		return nil, fmt.Errorf("bootstrap snapshot %s: no \"flags\" object: not a rule-set document", path)
	}
	if env != "" && doc.Environment != "" && doc.Environment != env {
		return nil, fmt.Errorf("bootstrap snapshot %s is for environment %q, not %q", path, doc.Environment, env)
	}
	return &doc, nil
}
