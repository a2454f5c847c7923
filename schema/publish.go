package schema

import (
	"path"
	"strings"
)

// Dir is where a flags repository keeps its published copy of the schemas
// (`flagpole init` writes it, `flagpole schema --out .flagpole/schema`
// refreshes it after an upgrade), relative to the repository root. The
// loader ignores dot-directories, and editors find the schemas offline
// through each file's Modeline.
const Dir = ".flagpole/schema"

// NameFor returns the schema of the repository file at rel (slash-separated,
// relative to the root): flagpole.yaml, attributes.yaml, audiences/*.yaml,
// flags/*.yaml, overrides/<env>/*.yaml or tests/*.yaml. It returns "" for
// any other path.
func NameFor(rel string) string {
	dir, file := path.Split(path.Clean(rel))
	ext := path.Ext(file)
	if ext != ".yaml" && ext != ".yml" {
		return ""
	}
	switch {
	case dir == "" && strings.TrimSuffix(file, ext) == "flagpole":
		return Flagpole
	case dir == "" && strings.TrimSuffix(file, ext) == "attributes":
		return Attributes
	case dir == "audiences/":
		return Audience
	case dir == "flags/":
		return Flag
	case dir == "tests/":
		return Test
	case strings.HasPrefix(dir, "overrides/") && strings.Count(dir, "/") == 2:
		return Override
	}
	return ""
}

// Modeline returns the first line that points the YAML language server of
// an editor at the schema of the repository file rel, by a path relative
// to the file into Dir, such as
//
//	# yaml-language-server: $schema=../.flagpole/schema/flag.schema.json
//
// It returns "" when rel is not a repository file.
func Modeline(rel string) string {
	name := NameFor(rel)
	if name == "" {
		return ""
	}
	up := strings.Repeat("../", strings.Count(path.Clean(rel), "/"))
	return "# yaml-language-server: $schema=" + up + Dir + "/" + name + ".schema.json"
}
