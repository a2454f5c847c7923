package loader

import "gopkg.in/yaml.v3"

// The raw shapes of the repository files, decoded from YAML nodes once the
// file has passed its schema. Optional fields are pointers or nodes, so
// that absence and zero differ.

type settingsYAML struct {
	Version      int            `yaml:"version"`
	Environments []string       `yaml:"environments"`
	Keys         []keyYAML      `yaml:"keys"`
	Triggers     []triggerYAML  `yaml:"triggers"`
	Breaker      *breakerYAML   `yaml:"breaker"`
	Writeback    *writebackYAML `yaml:"writeback"`
	Notify       []notifyYAML   `yaml:"notify"`
}

type keyYAML struct {
	Name         string   `yaml:"name"`
	Environment  string   `yaml:"environment"`
	Environments []string `yaml:"environments"`
	Kind         string   `yaml:"kind"`
	SHA256       string   `yaml:"sha256"`
}

type triggerYAML struct {
	Name        string `yaml:"name"`
	Flag        string `yaml:"flag"`
	Environment string `yaml:"environment"`
	Action      string `yaml:"action"`
	SHA256      string `yaml:"sha256"`
}

type breakerYAML struct {
	Window      *string       `yaml:"window"`
	MinRequests *int          `yaml:"min_requests"`
	ErrorRate   *float64      `yaml:"error_rate"`
	Slow        *slowYAML     `yaml:"slow"`
	Recovery    *recoveryYAML `yaml:"recovery"`
	OnTrip      *string       `yaml:"on_trip"`
}

type slowYAML struct {
	Duration *string  `yaml:"duration"`
	Rate     *float64 `yaml:"rate"`
}

type recoveryYAML struct {
	Delay *string  `yaml:"delay"`
	Start *float64 `yaml:"start"`
	Step  *float64 `yaml:"step"`
	Every *string  `yaml:"every"`
}

type writebackYAML struct {
	Branch string `yaml:"branch"`
	Author *struct {
		Name  string `yaml:"name"`
		Email string `yaml:"email"`
	} `yaml:"author"`
}

type notifyYAML struct {
	URL    string   `yaml:"url"`
	Format string   `yaml:"format"`
	Secret string   `yaml:"secret"`
	Events []string `yaml:"events"`
}

type attributesYAML struct {
	Attributes []struct {
		Name        string `yaml:"name"`
		Type        string `yaml:"type"`
		Description string `yaml:"description"`
	} `yaml:"attributes"`
}

type conditionYAML struct {
	Audience  string      `yaml:"audience"`
	Attribute string      `yaml:"attribute"`
	Operator  string      `yaml:"operator"`
	Value     yaml.Node   `yaml:"value"`
	Values    []yaml.Node `yaml:"values"`
}

type audienceYAML struct {
	Key         string          `yaml:"key"`
	Name        string          `yaml:"name"`
	Description string          `yaml:"description"`
	Match       string          `yaml:"match"`
	Conditions  []conditionYAML `yaml:"conditions"`
}

type ruleYAML struct {
	Name       string          `yaml:"name"`
	Users      []string        `yaml:"users"`
	Audiences  []string        `yaml:"audiences"`
	Match      string          `yaml:"match"`
	Conditions []conditionYAML `yaml:"conditions"`
	Serve      string          `yaml:"serve"`
	Rollout    yaml.Node       `yaml:"rollout"` // ordered mapping
	Ramp       *rampYAML       `yaml:"ramp"`
	By         string          `yaml:"by"`
}

type rampYAML struct {
	Serve     string  `yaml:"serve"`
	Otherwise string  `yaml:"otherwise"`
	From      float64 `yaml:"from"`
	Step      float64 `yaml:"step"`
	Every     string  `yaml:"every"`
	Start     string  `yaml:"start"`
}

type prereqYAML struct {
	Flag     string   `yaml:"flag"`
	Variants []string `yaml:"variants"`
}

// stepYAML is one schedule step. Key, Type and Variants are decoded only
// to be reported: a step cannot set them.
type stepYAML struct {
	At       string        `yaml:"at"`
	Enabled  *bool         `yaml:"enabled"`
	Off      string        `yaml:"off"`
	Default  string        `yaml:"default"`
	Rules    *[]ruleYAML   `yaml:"rules"`
	Requires *[]prereqYAML `yaml:"requires"`
	Key      yaml.Node     `yaml:"key"`
	Type     yaml.Node     `yaml:"type"`
	Variants yaml.Node     `yaml:"variants"`
}

// overlayYAML holds the fields an environment may override.
type overlayYAML struct {
	Client   *bool         `yaml:"client"`
	Variants yaml.Node     `yaml:"variants"` // ordered mapping
	Enabled  *bool         `yaml:"enabled"`
	Off      string        `yaml:"off"`
	Default  string        `yaml:"default"`
	Rules    *[]ruleYAML   `yaml:"rules"`
	Breaker  *breakerYAML  `yaml:"breaker"`
	Requires *[]prereqYAML `yaml:"requires"`
	Schedule *[]stepYAML   `yaml:"schedule"`
	Metadata yaml.Node     `yaml:"metadata"` // mapping of scalars
}

type flagYAML struct {
	Key          string `yaml:"key"`
	Name         string `yaml:"name"`
	Description  string `yaml:"description"`
	Owner        string `yaml:"owner"`
	Type         string `yaml:"type"`
	Expires      string `yaml:"expires"`
	Kind         string `yaml:"kind"`
	overlayYAML  `yaml:",inline"`
	Environments map[string]overlayYAML `yaml:"environments"`
}

type overrideYAML struct {
	Flag        string `yaml:"flag"`
	Environment string `yaml:"environment"`
	Serve       string `yaml:"serve"`
	Reason      string `yaml:"reason"`
	By          string `yaml:"by"`
	At          string `yaml:"at"`
	Expires     string `yaml:"expires"`
	Recovery    *struct {
		StartAt string  `yaml:"start_at"`
		Start   float64 `yaml:"start"`
		Step    float64 `yaml:"step"`
		Every   string  `yaml:"every"`
	} `yaml:"recovery"`
}
