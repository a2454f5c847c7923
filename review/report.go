package review

// Report is what changed between two sides of a flags repository, in words.
// It marshals as the `flagpole diff --format json` output.
type Report struct {
	Base SideInfo `json:"base"`
	Head SideInfo `json:"head"`
	// Changed is true when anything that evaluation, keys or triggers see
	// differs; a commit that only reorders or reformats YAML leaves it false.
	Changed bool `json:"changed"`
	// Notes explain how the sides relate (unrelated histories, a shallow
	// clone, an invalid BASE) and what was left out.
	Notes []string `json:"notes,omitempty"`
	// Repository lists changes outside environments: environments, keys and
	// triggers (names only, never hashes) and attribute declarations.
	Repository []string `json:"repository,omitempty"`
	// Environments holds one entry per environment of either side, in
	// HEAD's declaration order then BASE's.
	Environments []EnvReport `json:"environments"`
	// Sample describes the contexts the exposure figures were computed on.
	Sample SampleInfo `json:"sample"`
}

// SideInfo describes one side of the diff.
type SideInfo struct {
	Ref    string `json:"ref"`
	Label  string `json:"label"`
	Commit string `json:"commit,omitempty"`
	Valid  bool   `json:"valid"`
	// Errors are the side's validation errors as file:line:col: messages.
	Errors []string `json:"errors,omitempty"`
}

// SampleInfo describes the sample contexts of the exposure figures.
type SampleInfo struct {
	Size int `json:"size"`
	// Source is "generated" or the contexts file's path.
	Source string `json:"source"`
}

// Change is the kind of change of a flag, audience or override.
type Change string

// Kinds of change.
const (
	Added    Change = "added"
	Removed  Change = "removed"
	Renamed  Change = "renamed"  // a flag removed and added under another key, otherwise the same
	Changed  Change = "changed"  // its own fields changed
	Affected Change = "affected" // unchanged itself, but something it uses changed
	Set      Change = "set"      // an override that appeared
	Cleared  Change = "cleared"  // an override that disappeared
)

// EnvReport is what changed in one environment.
type EnvReport struct {
	Environment string `json:"environment"`
	// Status is Added or Removed for an environment only one side declares.
	Status    Change           `json:"status,omitempty"`
	Flags     []FlagChange     `json:"flags,omitempty"`
	Audiences []AudienceChange `json:"audiences,omitempty"`
	Overrides []OverrideChange `json:"overrides,omitempty"`
}

// Empty reports whether nothing changed in the environment.
func (e *EnvReport) Empty() bool {
	return e.Status == "" && len(e.Flags) == 0 && len(e.Audiences) == 0 && len(e.Overrides) == 0
}

// FlagChange is one flag that changed, directly or through what it uses.
type FlagChange struct {
	Key    string `json:"key"`
	Change Change `json:"change"`
	// RenamedFrom is the old key of a Renamed flag.
	RenamedFrom string `json:"renamed_from,omitempty"`
	// Details are the changes in words, field by field; for an added flag
	// its behaviour, for a removed one what it did.
	Details []string `json:"details,omitempty"`
	// Via lists what changed under the flag: "audience west-coast-students",
	// "attribute age", "override".
	Via []string `json:"via,omitempty"`
	// Exposure is the flag's variants on the sample contexts before and
	// after; nil when it was not computed (see Report.Notes).
	Exposure *Exposure `json:"exposure,omitempty"`
}

// AudienceChange is one audience that changed.
type AudienceChange struct {
	Key     string   `json:"key"`
	Change  Change   `json:"change"`
	Details []string `json:"details,omitempty"`
	// Flags are the flags that use the audience, directly or through
	// another audience, on either side.
	Flags []string `json:"flags,omitempty"`
}

// OverrideChange is an override set, cleared or changed.
type OverrideChange struct {
	Flag   string `json:"flag"`
	Change Change `json:"change"`
	Before string `json:"before,omitempty"` // in words
	After  string `json:"after,omitempty"`
}

// Exposure is the share of each variant of one flag on the sample contexts,
// before and after, and how many contexts switch variant.
type Exposure struct {
	Samples  int            `json:"samples"`
	Variants []VariantShare `json:"variants"`
	// Switched is how many contexts get a different variant after.
	Switched int      `json:"switched"`
	Switches []Switch `json:"switches,omitempty"`
}

// VariantShare counts the sample contexts that get one variant.
type VariantShare struct {
	Variant string `json:"variant"`
	Before  int    `json:"before"`
	After   int    `json:"after"`
}

// Switch counts the sample contexts that move from one variant to another.
// An empty variant stands for the flag not existing on that side.
type Switch struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Count int    `json:"count"`
}
